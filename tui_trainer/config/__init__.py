"""Study presets: the schema, loading with source positions, --set overrides, sweep expansion.

Imports neither torch nor textual (DESIGN.md's import rule).
"""

from tui_trainer.config.load import LoadedStudy, load_preset, parse_override
from tui_trainer.config.schema import RunConfig, StudyPreset
from tui_trainer.config.sweep import RunSpec

__all__ = [
    "LoadedStudy",
    "RunConfig",
    "RunSpec",
    "StudyPreset",
    "load_preset",
    "parse_override",
]
