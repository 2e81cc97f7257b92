"""Helpers shared by the test suite and the benchmarks: no fixtures and no pytest, only plain Python.

The benchmarks import them as `tests.support.<module>`: they run from the checkout root (as
`python -m benchmarks.<name>`, or as a script that puts the root on sys.path first). Tests never
import benchmarks.
"""
