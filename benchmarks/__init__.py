"""Speed and accuracy benchmarks: run each module with ``python -m benchmarks.<name>``."""
