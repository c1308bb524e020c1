"""Benchmarks of the running service (``make bench``); not collected by pytest."""
