"""Every random state a run draws from: seeded at its start, captured into last.pt and put back
on resume, so that a resumed run draws the very numbers an uninterrupted one would."""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch


def run_generators(seed: int, device: torch.device) -> tuple[torch.Generator, np.random.Generator]:
    """A run's own generators, seeded by train.seed: the data generator (epoch order, crop,
    flip, rotation, mixup partners) on the training device, and the host generator that draws
    mixup's lambda. `tui-trainer data` draws its sample sheet from the same pair."""
    return torch.Generator(device=device).manual_seed(seed), np.random.default_rng(seed)


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and torch's global generators (weights, then anything else)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def capture_random_states(
    generator: torch.Generator, mix_rng: np.random.Generator
) -> dict[str, Any]:
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


def restore_random_states(
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
