"""Benchmarks, each measured side by side with its limit and its peers in the same run."""
