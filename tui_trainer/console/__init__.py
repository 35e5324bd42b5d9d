"""Terminal output of the CLI: the live Rich display and plain log lines of a training study,
and the tables of `runs` and `show`. Imports neither torch nor textual."""
