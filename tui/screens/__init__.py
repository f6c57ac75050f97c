"""Screens pushed over the main panels: help, confirmations, profiles, job logs."""
