"""A study's lifecycle (start, resume, end: lifecycle.py), beneath it the executor interface
(executor.py) and the run source (source.py), the events a study tells its display (events.py)
and its result (result.py). Torch-free and display-free: the CLI picks the executor and composes
the display."""
