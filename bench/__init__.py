"""Benchmarks: ratios against a ceiling measured in the same run, since the machines are shared and noisy."""
