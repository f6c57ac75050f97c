"""Container images: the AI Training Dockerfiles, build, tag, login and push."""
