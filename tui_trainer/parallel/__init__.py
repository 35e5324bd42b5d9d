"""Studies in parallel: the driver that keeps N runs in flight, and the backends that decide where
each run's worker (`tui-trainer worker-run RUN_DIR`) runs: child processes of this machine, or
Ray tasks on a cluster. No torch here: the driver stays small, and each worker holds its own
dataset once.
"""
