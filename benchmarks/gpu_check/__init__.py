"""One prepared check of every CUDA path of tui-trainer, for a short slot on an offline GPU box:

    python -m benchmarks.gpu_check [--out DIR] [--budget-s 360] [--wheels DIR] [--cpu-dry-run]

It runs from a source checkout with the machine's own torch (nothing is installed into that
Python; missing pure-Python packages come from --wheels, see deps.py), trains through the real
`python -m tui_trainer` commands, and writes DIR/gpu_check.md with every step's outcome and
figures beside the raw run directories. `--cpu-dry-run` runs the same steps at a tiny size on
the CPU, skipping the CUDA-only ones, and is part of the test suite so that the check cannot rot
between GPU slots. Exit code: 0 when every step that ran passed, 1 otherwise.
"""
