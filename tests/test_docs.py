"""The docs keep their promises: every link and anchor leads somewhere, every page is reachable
from README.md, what a page quotes or names exists as written, and the two references are
exactly what their generators make of the code today."""

from __future__ import annotations

import re
import typing
from collections import Counter
from pathlib import Path

import pytest

from tests.helpers import REPO
from tui_trainer.cli import reference as cli_reference
from tui_trainer.config import reference as config_reference
from tui_trainer.config.load import load_preset
from tui_trainer.config.schema import SECTION_MODELS

PAGES = sorted([REPO / "README.md", REPO / "ARCHITECTURE.md", *(REPO / "docs").rglob("*.md")])
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
QUOTED_FILE = re.compile(r"<!-- file: (\S+) -->\n```\w*\n(.*?)^```", re.S | re.M)


def prose(text: str) -> str:
    """The text outside code blocks and code spans, where a link is a link."""
    return re.sub(r"`[^`\n]*`", "", FENCE.sub("", text))


def code(text: str) -> str:
    """The text inside code blocks and code spans, where commands are written."""
    blocks = [body for _, body in FENCE.findall(text)]
    spans = re.findall(r"`([^`\n]+)`", FENCE.sub("", text))
    return "\n".join([*blocks, *spans])


def anchors(page: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces as '-', repeats -1, -2."""
    seen: Counter[str] = Counter()
    found = set()
    for heading in re.findall(r"^#+ (.+)$", FENCE.sub("", page.read_text(encoding="utf-8")), re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        found.add(slug if not seen[slug] else f"{slug}-{seen[slug]}")
        seen[slug] += 1
    return found


def broken_links(page: Path, root: Path = REPO) -> list[str]:
    broken = []
    for target in LINK.findall(prose(page.read_text(encoding="utf-8"))):
        if re.match(r"[a-z]+:", target):  # https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        if not linked.exists():
            broken.append(f"{page.relative_to(root)}: {target}: no such file")
        elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
            broken.append(f"{page.relative_to(root)}: {target}: no such heading")
    return broken


def test_every_relative_link_and_anchor_in_the_docs_leads_somewhere():
    assert [problem for page in PAGES for problem in broken_links(page)] == []


def test_a_broken_link_and_a_missing_anchor_are_caught(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("# A title\n\n[gone](nowhere.md) [here](#a-title) [not here](#no-title)\n")
    assert broken_links(page, root=tmp_path) == [
        "page.md: nowhere.md: no such file",
        "page.md: #no-title: no such heading",
    ]


def test_every_docs_page_is_reachable_from_the_readme():
    reached, todo = set(), [REPO / "README.md"]
    while todo:
        page = todo.pop()
        reached.add(page)
        for target in LINK.findall(prose(page.read_text(encoding="utf-8"))):
            linked = (page.parent / target.partition("#")[0]).resolve()
            if linked.suffix == ".md" and linked.exists() and linked not in reached:
                todo.append(linked)
    assert [str(p.relative_to(REPO)) for p in PAGES if p not in reached] == []


def test_a_whole_preset_the_docs_show_is_a_real_file_quoted_exactly():
    quoted = [(page, *match) for page in PAGES for match in QUOTED_FILE.findall(page.read_text())]
    for page, path, body in quoted:
        assert body == (REPO / path).read_text(encoding="utf-8"), f"{page.name} misquotes {path}"
    # a whole preset written into a page by hand drifts from every real one: quote a file instead
    invented = [
        page.relative_to(REPO).as_posix()
        for page in PAGES
        for lang, body in FENCE.findall(page.read_text())
        if lang == "toml" and "[study]" in body and body not in {b for _, _, b in quoted}
    ]
    assert quoted and invented == []


def test_every_toml_example_in_the_docs_loads_as_a_preset_or_as_part_of_the_quickstart(tmp_path):
    quickstart = (REPO / "presets" / "quickstart.toml").read_text(encoding="utf-8")
    examples = [
        body for page in PAGES for lang, body in FENCE.findall(page.read_text()) if lang == "toml"
    ]
    assert examples
    for number, body in enumerate(examples):
        preset = tmp_path / f"example{number}.toml"
        preset.write_text(body if "[study]" in body else quickstart + "\n" + body)
        load_preset(preset)  # raises ConfigError, naming the key, for a wrong example


def test_every_report_preset_the_docs_name_is_a_built_in_preset():
    built_in = {path.stem for path in (REPO / "presets").glob("*.toml")}
    named = {
        (page.relative_to(REPO).as_posix(), name)
        for page in PAGES
        for name in re.findall(r"\b(r\d{3}-[a-z0-9-]*[a-z0-9])", page.read_text())
    }
    assert sorted((page, name) for page, name in named if name not in built_in) == []


def test_every_preset_file_a_command_in_the_docs_names_exists():
    named = {
        (page.relative_to(REPO).as_posix(), path)
        for page in PAGES
        for path in re.findall(
            r"tui-trainer \w+ ((?:presets|docs)/\S+\.toml)", code(page.read_text())
        )
    }
    assert named and sorted((page, p) for page, p in named if not (REPO / p).exists()) == []


def test_every_command_the_docs_run_is_a_command_of_the_cli():
    import typer

    from tui_trainer.cli import app

    commands = set(typer.main.get_command(app).commands)  # what the CLI has today
    named = {
        (page.relative_to(REPO).as_posix(), word)
        for page in PAGES
        for word in re.findall(
            r"(?m)(?:^|[\s`(])tui-trainer ([a-z][a-z-]*)", code(page.read_text())
        )
    }
    assert sorted((page, word) for page, word in named if word not in commands) == []


def test_the_studies_page_lists_every_report_preset_once():
    table = (REPO / "docs" / "studies.md").read_text(encoding="utf-8")
    listed = re.findall(r"^\| `(r\d{3}-[^`]+)` \|", table, re.M)
    report_presets = sorted(path.stem for path in (REPO / "presets").glob("r*.toml"))
    assert sorted(listed) == report_presets


@pytest.mark.parametrize(
    "generator",
    [config_reference, cli_reference],
    ids=["configuration reference", "cli reference"],
)
def test_a_generated_reference_is_exactly_what_its_generator_makes_of_the_code_today(generator):
    page = (REPO / generator.PAGE).read_text(encoding="utf-8")
    assert page == generator.reference_page(), f"regenerate it: {generator.UPDATE_COMMAND}"


def literal_choices(annotation: object) -> list[object]:
    if typing.get_origin(annotation) is typing.Literal:
        return list(typing.get_args(annotation))
    return [value for arg in typing.get_args(annotation) for value in literal_choices(arg)]


def test_the_configuration_reference_gives_every_choice_of_every_key():
    page = (REPO / config_reference.PAGE).read_text(encoding="utf-8")
    rows = dict(re.findall(r"^\| `([\w.]+)` \|(.*)$", page, re.M))
    missing = [
        f"{section}.{name}: {choice}"
        for section, model in SECTION_MODELS.items()
        for name, info in model.model_fields.items()
        for choice in literal_choices(info.annotation)
        if f"`{choice}`" not in rows[f"{section}.{name}"]
    ]
    assert missing == []


def test_every_key_of_the_schema_has_a_description_in_the_configuration_reference():
    page = (REPO / config_reference.PAGE).read_text(encoding="utf-8")
    for section, model in SECTION_MODELS.items():
        for name, info in model.model_fields.items():
            assert info.description, f"{section}.{name} has no description"
            assert f"| `{section}.{name}` |" in page


def test_the_studies_the_pictures_are_made_from_are_offline_presets():
    studies = sorted((REPO / "docs" / "pictures").glob("*.toml"))
    assert [path.name for path in studies] == ["digits-lr.toml", "digits-schedule.toml"]
    for path in studies:
        assert load_preset(path).preset.data.dataset == "digits"  # no download, no data dir


def test_every_module_the_docs_run_with_python_m_is_in_the_repository():
    named = {
        (page.relative_to(REPO).as_posix(), module)
        for page in PAGES
        for module in re.findall(r"python -m ((?:tui_trainer|benchmarks)[\w.]*)", page.read_text())
    }
    path = lambda module: REPO / module.replace(".", "/")  # noqa: E731
    missing = [
        (page, module)
        for page, module in sorted(named)
        if not path(module).with_suffix(".py").exists()
        and not (path(module) / "__main__.py").exists()
    ]
    assert named and missing == []
