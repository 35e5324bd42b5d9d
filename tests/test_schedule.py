"""Learning-rate schedules against torch's own schedulers."""

from __future__ import annotations

import pytest
import torch

from tui_trainer.config.schedule import lr_at, lr_curve
from tui_trainer.config.schema import ScheduleSection


def torch_curve(make, epochs: int, lr: float) -> list[float]:
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=lr)
    scheduler = make(optimizer)
    curve = []
    for _ in range(epochs):
        curve.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return curve


def test_cosine_matches_cosine_annealing_per_epoch():
    ours = lr_curve(ScheduleSection(name="cosine", min_lr=0.001), 0.1, 15)
    theirs = torch_curve(
        lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, 15, eta_min=0.001), 15, 0.1
    )
    assert ours == pytest.approx(theirs)


def test_step_matches_step_lr():
    ours = lr_curve(ScheduleSection(name="step", step_size=3, gamma=0.03), 1e-3, 10)
    theirs = torch_curve(lambda o: torch.optim.lr_scheduler.StepLR(o, 3, gamma=0.03), 10, 1e-3)
    assert ours == pytest.approx(theirs)


def test_constant_and_warmup():
    schedule = ScheduleSection(name="constant", warmup_epochs=1)
    assert [lr_at(schedule, 0.1, 5, s, 4) for s in range(6)] == pytest.approx(
        [0.025, 0.05, 0.075, 0.1, 0.1, 0.1]
    )
    assert lr_curve(ScheduleSection(), 0.1, 3) == [0.1, 0.1, 0.1]


def test_onecycle_matches_one_cycle_lr_step_by_step():
    schedule = ScheduleSection(name="onecycle", pct_start=0.25, div_factor=10, final_div_factor=100)
    epochs, per_epoch = 4, 5
    ours = [lr_at(schedule, 0.1, epochs, s, per_epoch) for s in range(epochs * per_epoch)]
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer,
        max_lr=0.1,
        total_steps=epochs * per_epoch,
        pct_start=0.25,
        div_factor=10,
        final_div_factor=100,
        cycle_momentum=False,
    )
    theirs = []
    for _ in range(epochs * per_epoch):
        theirs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    assert ours == pytest.approx(theirs)
