"""Benchmarks: each module measures a baseline and the product's path in the same run and reports ratios."""
