"""Benchmarks and fault-injection harnesses that run the whole platform as processes."""
