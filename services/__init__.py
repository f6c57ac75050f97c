"""Domain services of triton-deck: storage, images, jobs, inference and profiles.

Nothing in this package imports Textual; the TUI and the CLI both sit on top of it.
"""
