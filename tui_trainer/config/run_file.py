"""A run's own config.toml, read back: what `resume` and a worker train a run with. Torch-free, so
that the study's lifecycle reads it the same way for every executor: a config.toml that does not
load is a located error (file and key), never a run silently left out.
"""

from __future__ import annotations

from pathlib import Path

from tui_trainer.config.messages import describe_error, render_key
from tui_trainer.config.schema import SECTION_MODELS, RunConfig
from tui_trainer.errors import ConfigError, Problem, UnavailableError
from tui_trainer.store.atomic import read_toml


def run_config(path: Path) -> RunConfig:
    """A run's config.toml, validated again (it may have been edited by hand)."""
    import pydantic

    data = read_toml(path)
    if data is None:
        raise ConfigError([Problem("missing or not valid TOML", source=str(path))])
    try:
        return RunConfig.model_validate(data)
    except pydantic.ValidationError as exc:
        problems = []
        for error in exc.errors():  # worded and keyed as the same key's error in a preset
            loc, message = describe_error(error, SECTION_MODELS)
            problems.append(Problem(message, source=str(path), key=render_key(loc)))
        raise ConfigError(problems) from None


def resume_data_config(name: str, config: RunConfig, data_dir: Path | None) -> RunConfig:
    """The config a resumed run loads its data with. `data_dir` (resume --data-dir) replaces the
    run's. Otherwise a data_dir named by the run's config.toml is only read: resume never
    creates it nor downloads into it (config.toml is a file of the study, which anyone who
    could write the runs directory may have edited); the default location behaves as for
    `run`."""
    named = config.data.data_dir
    if data_dir is not None:
        data = config.data.model_copy(update={"data_dir": str(data_dir)})
    elif named is not None and config.data.dataset != "digits":
        if not _is_dir(named):
            raise UnavailableError(
                f"cannot resume {name}: its config.toml names data.data_dir = {named!r}, which "
                "does not exist, and resume does not create it; pass --data-dir DIR (where the "
                "dataset is, or may be downloaded)"
            )
        data = config.data.model_copy(update={"download": False})
    else:
        return config
    return config.model_copy(update={"data": data})


def _is_dir(path: str) -> bool:
    try:
        return Path(path).expanduser().is_dir()
    except (OSError, RuntimeError, ValueError):
        return False
