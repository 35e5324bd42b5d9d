"""Benchmarks of tui-trainer: run from the repository root as `python -m benchmarks.<name>`;
results and how to read them in benchmarks/README.md."""
