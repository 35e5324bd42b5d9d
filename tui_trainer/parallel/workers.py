"""The workers executor: each run trained by a `tui-trainer worker-run RUN_DIR` process of its
own, which a backend starts on this machine (parallel/local.py) or as a Ray task on a cluster
node (parallel/ray_cluster.py). The study's own process never imports torch: it asks
`worker-check` (placement.py) whether the study can train before anything is written, then
keeps at most `jobs` workers in flight (schedule.py). Nothing is sent back from a worker but its
exit code: the run directory says the rest.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from tui_trainer.config.schema import ParallelSection
from tui_trainer.errors import StorageError
from tui_trainer.parallel.placement import (
    StudyFootprint,
    WorkerPlan,
    check_here,
    data_dirs,
    local_plan,
    with_device_gpu,
)
from tui_trainer.parallel.schedule import Schedule
from tui_trainer.study.executor import Prepared, ResumeRequest, StartRequest

if TYPE_CHECKING:
    from collections.abc import Callable

    from tui_trainer.signals import StopSignals
    from tui_trainer.store.layout import StudyPaths
    from tui_trainer.store.lock import RunLocks
    from tui_trainer.study.events import TrainingEvents
    from tui_trainer.study.source import RunSource


class WorkerExecutor:
    """Trains each run in a worker process. `device_spec` and `data_dir` are resume's
    --device and --data-dir (a new study's come in its config through --set)."""

    def __init__(
        self,
        settings: ParallelSection,
        note: Callable[[str], None],
        device_spec: str | None = None,
        data_dir: Path | None = None,
    ):
        self.settings = settings
        self.note = note
        self.device_spec = device_spec
        self.data_dir = Path(data_dir).absolute() if data_dir is not None else None
        self.plan: WorkerPlan | None = None

    def prepare(self, request: StartRequest | ResumeRequest) -> Prepared:
        if isinstance(request, StartRequest):
            loaded = request.loaded
            device = loaded.preset.train.device
            args = [str(loaded.source)]
            for override in loaded.overrides:
                args += ["--set", override.text]
            configs = [run.config for run in loaded.runs]
            study = StudyFootprint(request.runs_dir, data_dirs(configs), device, len(configs))
        else:
            args = ["--study", str(request.study.paths.root.absolute())]
            if self.device_spec is not None:
                args += ["--device", self.device_spec]
            if self.data_dir is not None:
                args += ["--data-dir", str(self.data_dir)]
            for target in request.targets:
                args += ["--run", target.name]
            configs = [spec.config for spec in request.specs]
            dirs = [self.data_dir] if self.data_dir is not None else data_dirs(configs)
            device = self.device_spec or configs[0].train.device
            runs_dir = request.study.paths.root.parent
            study = StudyFootprint(runs_dir, dirs, device, len(configs))
        self.plan = self._plan(with_device_gpu(self.settings, device), args, study)
        return Prepared(self.plan.device, self.plan.jobs)

    def _plan(self, settings: ParallelSection, args: list[str], study: StudyFootprint):
        if settings.cluster:
            from tui_trainer.parallel.ray_cluster import cluster_plan

            return cluster_plan(
                settings,
                args,
                study.run_count,
                self.note,
                study.runs_dir,
                study.data_dirs,
                study.device,
            )
        return local_plan(settings, check_here(args), study.run_count, self.note)

    def train(
        self,
        paths: StudyPaths,
        source: RunSource,
        events: TrainingEvents,
        stop: StopSignals,
        locks: RunLocks,
        states: dict[str, str],
    ) -> None:
        plan = self.plan
        if plan is None:
            raise RuntimeError("WorkerExecutor.train before prepare")
        events.note(
            f"{len(source.known())} run(s), at most {plan.jobs} at once on "
            f"{plan.device.name or plan.device.spec}"
        )
        schedule = Schedule(
            paths,
            source,
            plan.backend,
            plan.jobs,
            self.settings.retries,
            events,
            locks,
            stop,
            states,
            self.data_dir,
        )
        schedule.run()
        if schedule.unwritable is not None:  # as the in-process executor's StorageError: exit 3
            raise StorageError(schedule.unwritable)

    def close(self) -> None:
        if self.plan is not None:
            self.plan.backend.close()


__all__ = ["WorkerExecutor"]
