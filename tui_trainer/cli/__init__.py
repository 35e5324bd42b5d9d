"""The `tui-trainer` command: parse, call, map errors to exit codes. Thin on purpose.

torch is imported only inside the commands that need it (training, predicting), so `--help`,
`runs`, `show` and `presets` start fast. commands.py assembles the app; the commands live by
kind in training.py, reading.py and inspecting.py, on the options of options.py and the error
and table printing of output.py.
"""

from tui_trainer.cli.commands import app, main

__all__ = ["app", "main"]
