"""Checkpoints: what a run needs to continue exactly where it stopped, written durably and loaded
without running pickled code.

`last.pt` holds the model, optimizer, schedule and gradient-scaler states, the epoch and step, the
random states (Python, NumPy, torch, CUDA, the run's data generator and its mixup generator) and,
when the run stopped inside an epoch, that epoch's data order and running sums. `best.pt` holds the
weights of the best validation epoch. Both are plain tensors and containers: they load with
`torch.load(weights_only=True)`, which refuses anything that would import or call code.

Writes go to a temp file in the same directory, are fsynced, renamed over the old file and the
directory is fsynced (store.atomic.write_bytes_atomic): a kill at any moment leaves the previous
checkpoint or the new one, never a torn one.
"""

from __future__ import annotations

import io
import pickle
import random
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from tui_trainer.errors import UnavailableError
from tui_trainer.store.atomic import write_bytes_atomic

FORMAT = 1
LAST = "last.pt"
BEST = "best.pt"


class CheckpointError(UnavailableError):
    """A checkpoint that cannot be used: missing, damaged, or holding more than tensors."""


def save(path: Path, payload: Mapping[str, Any]) -> None:
    buffer = io.BytesIO()
    torch.save(dict(payload), buffer)
    write_bytes_atomic(path, buffer.getvalue(), durable=True)


def load(path: Path, map_location: torch.device | str = "cpu") -> dict[str, Any]:
    """The checkpoint at `path`, loaded with weights_only=True. A file that holds Python objects
    other than tensors and plain containers (a crafted pickle) is refused, never executed."""
    path = Path(path)
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except FileNotFoundError:
        raise CheckpointError(f"{path}: no such checkpoint") from None
    except pickle.UnpicklingError as exc:
        first = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(
            f"{path}: refused: it holds Python objects other than tensors, and loading it could "
            f"run code ({first[:160]})"
        ) from None
    except (OSError, RuntimeError, EOFError, ValueError, zipfile.BadZipFile) as exc:
        raise CheckpointError(f"{path}: not a readable checkpoint ({exc})") from None
    if not isinstance(payload, dict) or "model" not in payload:
        raise CheckpointError(f"{path}: not a tui-trainer checkpoint (no model weights)")
    return payload


# -- random states -------------------------------------------------------------------------------


def capture_rng(generator: torch.Generator, mix_rng: np.random.Generator) -> dict[str, Any]:
    """Every random state a run draws from, as tensors, ints and lists."""
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": _numpy_global_state(),
        "torch": torch.get_rng_state(),
        "generator": generator.get_state(),
        "generator_device": generator.device.type,
        "mix": mix_rng.bit_generator.state,
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    if generator.device.type == "mps":
        state["mps"] = torch.mps.get_rng_state()
    return state


def restore_rng(
    state: Mapping[str, Any], generator: torch.Generator, mix_rng: np.random.Generator
) -> list[str]:
    """Put the saved random states back. Returns the ones that could not be (a run resumed on
    another kind of device than it was saved on: its data generator's state does not carry over,
    and the resumed epochs draw a different data order)."""
    skipped = []
    random.setstate(_as_tuples(state["python"]))
    kind, keys, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state((kind, np.asarray(keys, dtype=np.uint32), pos, has_gauss, gauss))
    torch.set_rng_state(state["torch"].cpu())
    if state.get("generator_device", generator.device.type) == generator.device.type:
        generator.set_state(state["generator"].cpu())
    else:
        skipped.append("data order")
    mix_rng.bit_generator.state = dict(state["mix"])
    cuda = state.get("cuda")
    if cuda and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all([s.cpu() for s in cuda])
    elif cuda:
        skipped.append("CUDA")
    mps = state.get("mps")
    if mps is not None and generator.device.type == "mps":
        torch.mps.set_rng_state(mps.cpu())
    elif mps is not None:
        skipped.append("MPS")
    return skipped


def _numpy_global_state() -> tuple[Any, ...]:
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    return (kind, keys.tolist(), int(pos), int(has_gauss), float(gauss))


def _as_tuples(value: Any) -> Any:
    """random.setstate wants tuples all the way down."""
    if isinstance(value, (list, tuple)):
        return tuple(_as_tuples(v) for v in value)
    return value


def all_finite(state_dict: Mapping[str, torch.Tensor]) -> bool:
    """True when every floating-point tensor of a state dict is finite (one device sync)."""
    checks = [torch.isfinite(t).all() for t in state_dict.values() if torch.is_floating_point(t)]
    return bool(torch.stack(checks).all()) if checks else True
