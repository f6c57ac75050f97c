"""Talking to a Triton server: health, model repository, classification."""
