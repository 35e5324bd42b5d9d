"""What the check asks torch directly, in a process of its own, answered as one JSON line:

    python -m benchmarks.gpu_check.probe device          # what CUDA sees; what --device auto picks
    python -m benchmarks.gpu_check.probe kernels DEVICE  # which optimizer kernels a run gets

`kernels` builds each optimizer the way a run does (train.optim.build_optimizer with
acceleration.optimizer_kernels) on a small model on DEVICE and takes steps with it, the
head-only-phase case included: its optimizer covers parameters that get no gradient at first,
then all of them, which fused kernels cannot step, so it must not be fused.
"""

from __future__ import annotations

import json
import sys
from typing import Any


def device() -> dict[str, Any]:
    import torch

    from tui_trainer.train.device import device_name, resolve_device

    found: dict[str, Any] = {
        "torch": torch.__version__,
        "cuda_build": torch.version.cuda,
        "cuda_available": torch.cuda.is_available(),
        "auto": str(resolve_device("auto")),
    }
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        found.update(
            count=torch.cuda.device_count(),
            name=device_name(torch.device("cuda", 0)),
            memory_gib=round(props.total_memory / 2**30, 1),
            capability=f"{props.major}.{props.minor}",
            bf16=torch.cuda.is_bf16_supported(),
            cudnn=torch.backends.cudnn.version(),
        )
    return found


def kernels(spec: str) -> dict[str, Any]:
    import torch
    from torch import nn

    from tui_trainer.config.schema import RunConfig
    from tui_trainer.train.acceleration import optimizer_kernels
    from tui_trainer.train.optim import build_optimizer

    dev = torch.device(spec)
    answer: dict[str, Any] = {}
    for name in ("sgd", "adam", "adamw"):
        for head_only_first in (False, True):
            config = RunConfig.model_validate(
                {
                    "study": {"name": "probe"},
                    "data": {"dataset": "digits"},
                    "model": {"arch": "mobilenet_v1"},
                    "optim": {"name": name, "lr": 0.01},
                    "train": {"epochs": 1},
                }
            )
            torch.manual_seed(0)
            model = nn.Sequential(nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 4)).to(dev)
            optimizer = build_optimizer(model, config, optimizer_kernels(dev, head_only_first))
            body = list(model[0].parameters())
            x = torch.randn(16, 8, device=dev)
            for step in range(4):
                frozen = head_only_first and step < 2  # the body sits out the first phase
                for p in body:
                    p.requires_grad_(not frozen)
                optimizer.zero_grad(set_to_none=True)
                model(x).square().mean().backward()
                optimizer.step()
            finite = all(bool(torch.isfinite(p).all()) for p in model.parameters())
            key = f"{name}{' head-only first' if head_only_first else ''}"
            answer[key] = {"fused": bool(optimizer.defaults.get("fused")), "finite": finite}
    return answer


def main(argv: list[str]) -> int:
    what = argv[0] if argv else "device"
    found = device() if what == "device" else kernels(argv[1])
    print(json.dumps(found))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
