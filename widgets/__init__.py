"""Reusable widgets: they render data and post messages, and never do I/O themselves."""
