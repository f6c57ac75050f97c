"""Measuring a served model, perf_analyzer's way: load sweeps and the server's own statistics."""
