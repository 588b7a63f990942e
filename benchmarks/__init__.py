"""Latency and throughput benchmarks of musicedge against its baselines, measured in one run.

``musicedge bench`` (or ``python -m benchmarks``) runs the suites; see benchmarks/README.md.
"""
