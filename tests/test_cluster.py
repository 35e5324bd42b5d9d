"""Studies on a local Ray cluster: tests/cluster/scenarios.py, run by a pytest of its own inside
a namespace that has only loopback (`unshare`: user, network, pid and mount namespaces), so that
the cluster is reachable from nowhere else and every process of it ends with the namespace. One
head serves every scenario; each test here is one scenario's outcome."""

from __future__ import annotations

import shutil
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest

from tests.helpers import REPO

SCENARIOS = REPO / "tests" / "cluster" / "scenarios.py"
NAMESPACE = [
    "unshare", "--user", "--map-root-user", "--net", "--pid", "--fork", "--mount", "--kill-child",
]  # fmt: skip
# Inside: loopback up (it starts down), then the scenarios' own pytest.
INSIDE = (
    'mount -t proc proc /proc && ip link set lo up && exec "$0" -m pytest -q -p no:cacheprovider '
    '-o addopts="" --junitxml="$1" "$2"'
)


def scenario_names() -> list[str]:
    text = SCENARIOS.read_text()
    return [line[4:].split("(")[0] for line in text.splitlines() if line.startswith("def test_")]


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory) -> dict[str, str]:
    """Run every scenario once; each one's outcome: passed, or its failure's text."""
    import ray  # noqa: F401  (the cluster extra is part of the test extra)

    assert shutil.which("unshare"), "the cluster tests need util-linux's unshare"
    report = tmp_path_factory.mktemp("cluster") / "report.xml"
    result = subprocess.run(
        [*NAMESPACE, "sh", "-c", INSIDE, sys.executable, str(report), str(SCENARIOS)],
        capture_output=True, text=True, timeout=900, cwd=REPO,
    )  # fmt: skip
    if not report.exists():
        raise AssertionError(f"the scenarios did not run:\n{result.stdout}\n{result.stderr}")
    found = {}
    for case in ElementTree.parse(report).getroot().iter("testcase"):
        failure = case.find("failure")
        if failure is None:  # (an Element without children is false: compare with None)
            failure = case.find("error")
        skipped = case.find("skipped")
        if failure is not None:
            found[case.get("name")] = (failure.get("message") or "") + "\n" + (failure.text or "")
        elif skipped is not None:
            found[case.get("name")] = "skipped: " + (skipped.get("message") or "")
        else:
            found[case.get("name")] = "passed"
    return found


@pytest.mark.process
@pytest.mark.parametrize("scenario", scenario_names())
def test_on_a_local_ray_cluster(outcomes, scenario):
    assert outcomes.get(scenario) == "passed", outcomes.get(scenario, "did not run")


def test_every_scenario_is_collected():
    assert len(scenario_names()) == 6
    assert Path(SCENARIOS).exists()
