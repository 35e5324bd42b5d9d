"""tui-trainer: a terminal experiment runner for PyTorch image-classification studies."""

__version__ = "0.1.0"
