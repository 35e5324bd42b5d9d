"""DIR/gpu_check.md: a table with every step's outcome, time and headline figures, then each
step's details, so that one file says what the GPU slot proved (and DIR/gpu_check.json holds
the same for scripts)."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from benchmarks.gpu_check.harness import FAILED, PASSED, SKIPPED, StepResult

MARKS = {PASSED: "pass", FAILED: "**FAIL**", SKIPPED: "skipped"}


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _figures_line(result: StepResult, limit: int = 3) -> str:
    shown = list(result.figures.items())[:limit]
    return "; ".join(f"{k}: {v}" for k, v in shown)


def render(header: list[str], results: list[StepResult], titles: dict[str, str]) -> str:
    lines = ["# GPU check", "", *header, ""]
    lines += ["| step | checks | result | s | figures |", "|---|---|---|---:|---|"]
    for r in results:
        headline = r.reason.splitlines()[0] if r.outcome != PASSED and r.reason else ""
        shown = _figures_line(r) if r.outcome == PASSED else headline
        lines.append(
            f"| {r.name} | {_cell(titles.get(r.name, ''))} | {MARKS[r.outcome]} | "
            f"{r.seconds:.0f} | {_cell(shown)} |"
        )
    for r in results:
        lines += ["", f"## {r.name}: {MARKS[r.outcome]} ({r.seconds:.1f} s)", ""]
        if r.reason:
            lines += ["```text", r.reason, "```", ""]
        lines += [f"- {k}: {v}" for k, v in r.figures.items()]
        lines += [f"- {line}" for line in r.details]
        lines.append(f"- raw files: `{r.name}/`")
    return "\n".join(lines) + "\n"


def write(out: Path, header: list[str], results: list[StepResult], titles: dict[str, str]) -> Path:
    path = out / "gpu_check.md"
    path.write_text(render(header, results, titles))
    record = {"header": header, "steps": [asdict(r) for r in results]}
    (out / "gpu_check.json").write_text(json.dumps(record, indent=1, default=str))
    return path
