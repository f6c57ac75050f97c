"""Triton itself: the bundled server runtime for the local profile."""
