"""steps.csv as logging windows: an epoch's short last window folded into the one before it,
the one rule behind every latest pace and loss shown."""

from __future__ import annotations

from tui_trainer.store.step_windows import StepWindow, latest_window, step_windows


def rows(*values: tuple[int, int, float, float, float]) -> list[dict]:
    return [
        {"epoch": e, "step": s, "loss": loss, "images_per_s": pace, "elapsed_s": t}
        for e, s, loss, pace, t in values
    ]


def test_the_latest_window_folds_the_partial_batch_in_by_steps_for_loss_and_time_for_pace():
    logged = rows((1, 10, 0.5, 20.0, 32.0), (1, 20, 0.44, 25.0, 57.6), (1, 21, 1.195, 2.0, 63.6))
    window = latest_window(logged)
    assert window is not None
    assert (window.epoch, window.step, window.steps) == (1, 21, 11)
    assert round(window.loss or 0, 4) == 0.5086 and round(window.images_per_s or 0, 2) == 20.63


def test_a_full_window_that_opens_an_epoch_is_never_folded_into_the_last_epoch():
    logged = rows((1, 10, 0.5, 20.0, 32.0), (1, 20, 0.44, 25.0, 57.6), (2, 30, 0.3, 24.0, 84.3))
    assert latest_window(logged) == StepWindow(2, 30, 10, 0.3, 24.0, 84.3 - 57.6)


def test_a_new_epochs_first_short_window_stays_its_own_in_a_long_run():
    logged = rows(*[(1 + (s - 1) // 100, s, 1.0, 30.0, s * 1.0) for s in range(10, 1001, 10)])
    logged += rows((11, 1001, 9.0, 1.0, 1010.0))
    window = latest_window(logged)
    assert window is not None and (window.step, window.steps) == (1001, 1)  # a new epoch's
    assert [w.steps for w in step_windows(logged[-3:], logged[-4])] == [10, 10, 1]
    assert latest_window([]) is None


def test_the_recent_windows_read_from_the_tail_are_those_of_the_whole_file():
    """The step chart reads only the tail of steps.csv (replaying epoch 300 of 12 runs read all
    6,000 rows of each, every tick): the same windows as from every row, up to any step."""
    from tui_trainer.store.step_windows import recent_windows

    per_epoch, every = 23, 5  # a short window of 3 steps closes every epoch
    logged = []
    for epoch in range(1, 41):
        for step in [*range(every, per_epoch, every), per_epoch]:
            at = (epoch - 1) * per_epoch + step
            logged.append((epoch, at, 1.0 / at, 30.0 + at % 7, at * 0.5))
    logged = rows(*logged)
    for limit in (None, 1, 24, 250, 251.5, 599, 920, 10_000):
        whole = [w for w in step_windows(logged) if limit is None or w.step <= limit]
        assert recent_windows(logged, 60, limit) == whole[-60:]
