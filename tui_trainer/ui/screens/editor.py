"""The editor: every key of the schema as a typed field (choices as selects, switches, validated
text), each error beside its field as you type, the sweep's axes, a preview of the learning-rate
schedule, the model's parameter counts; save as a new preset (comments kept), or launch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Footer, Header, Input, Label, Select, Static, Switch

from tui_trainer.config import edit
from tui_trainer.config.load import load_preset, read_preset_text
from tui_trainer.config.schedule import lr_curve
from tui_trainer.store.atomic import write_text_atomic
from tui_trainer.store.files import own_directory, write_new_file
from tui_trainer.ui.widgets.charts import LINE, MetricChart

SWEEP_ROWS = 4  # axes shown; an empty row is no axis


def field_id(spec: edit.FieldSpec) -> str:
    return f"f-{spec.section}-{spec.name}"


class AskName(ModalScreen[str | None]):
    """Asks for the new preset's name."""

    BINDINGS = [("escape", "cancel", "Cancel")]
    DEFAULT_CSS = """
    AskName { align: center middle; }
    AskName > Vertical {
        width: 60; height: auto; border: thick $primary; background: $surface; padding: 1 2;
    }
    """

    def __init__(self, suggestion: str) -> None:
        super().__init__()
        self.suggestion = suggestion

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("Save as preset named (letters, digits, '.', '_', '-'):")
            yield Input(value=self.suggestion, id="name")

    @on(Input.Submitted, "#name")
    def submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip() or None)

    def action_cancel(self) -> None:
        self.dismiss(None)


class EditorScreen(Screen):
    BINDINGS = [
        ("ctrl+s", "save", "Save as"),
        ("ctrl+l", "launch", "Launch"),
        ("escape", "app.pop_screen", "Back"),
    ]

    def __init__(self, preset: Path) -> None:
        super().__init__()
        self.preset_path = preset
        self.original_text = read_preset_text(preset)
        loaded = load_preset(preset)
        self.baseline: dict[str, Any] = loaded.preset.model_dump()
        self.specs = edit.field_specs()
        self.checked = edit.Checked(loaded.preset, loaded.runs, {})
        self._params_key = ""

    # -- layout --------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal():
            with VerticalScroll(id="form"):
                section = ""
                for spec in self.specs:
                    if spec.section != section:
                        section = spec.section
                        yield Static(Text(f"[{section}]", style="bold"), classes="section")
                    with Horizontal(classes="field"):
                        yield Label(spec.name, classes="field-name")
                        yield self._widget(spec)
                    yield Static("", id=f"{field_id(spec)}-error", classes="field-error")
                yield Static(
                    Text("[sweep]  key = [values], one run per combination", style="bold"),
                    classes="section",
                )
                axes = list(self.baseline["sweep"].items())
                for index in range(max(SWEEP_ROWS, len(axes) + 1)):
                    key, values = axes[index] if index < len(axes) else ("", None)
                    text = (
                        ""
                        if values is None
                        else edit.format_value(values, edit.FieldSpec("sweep", key, "text"))
                    )
                    with Horizontal(classes="field"):
                        yield Input(
                            value=key,
                            placeholder="optim.lr",
                            id=f"axis-key-{index}",
                            classes="axis-key",
                        )
                        yield Input(
                            value=text, placeholder="[0.01, 0.1]", id=f"axis-values-{index}"
                        )
                yield Static("", id="sweep-error", classes="field-error")
            with Vertical(id="side"):
                yield MetricChart("learning rate per epoch", id="lr-preview")
                yield Static(id="params")
                yield Static(id="summary")
        yield Footer()

    def _widget(self, spec: edit.FieldSpec):
        value = self.baseline[spec.section][spec.name]
        if spec.kind == "choice":
            options = [(choice, choice) for choice in spec.choices]
            return Select(
                options,
                value=value if value is not None else Select.NULL,
                allow_blank=spec.optional,
                compact=True,
                id=field_id(spec),
                prompt="none",
            )
        if spec.kind == "switch":
            return Switch(value=bool(value), id=field_id(spec))
        return Input(value=edit.format_value(value, spec), id=field_id(spec), compact=True)

    def on_mount(self) -> None:
        self.revalidate()

    # -- reading the form ----------------------------------------------------------------------

    def form_data(self) -> dict[str, Any]:
        data: dict[str, Any] = {section: {} for section in edit.EDITED_SECTIONS}
        for spec in self.specs:
            widget = self.query_one(f"#{field_id(spec)}")
            if isinstance(widget, Select):
                value = None if widget.value is Select.NULL else widget.value
            elif isinstance(widget, Switch):
                value = widget.value
            else:
                value = edit.parse_text(widget.value, spec)
            if value is not None:
                data[spec.section][spec.name] = value
        axes = []
        for index in range(len(self.query(".axis-key"))):
            key = self.query_one(f"#axis-key-{index}", Input).value
            values = self.query_one(f"#axis-values-{index}", Input).value
            axes.append((key, values))
        sweep, self._axis_errors = edit.parse_sweep(axes)
        data["sweep"] = sweep
        return data

    @on(Input.Changed)
    @on(Select.Changed)
    @on(Switch.Changed)
    def changed(self, event: Input.Changed | Select.Changed | Switch.Changed) -> None:
        if isinstance(event, Input.Changed) and event.input.has_class("axis-key"):
            self._keep_a_spare_axis_row()
        self.revalidate()

    def _keep_a_spare_axis_row(self) -> None:
        """Typing into the last axis row adds an empty one below it: there is always room for
        another axis."""
        keys = list(self.query(".axis-key").results(Input))
        if keys and keys[-1].value.strip():
            index = len(keys)
            row = Horizontal(
                Input(
                    placeholder="optim.lr", id=f"axis-key-{index}", classes="axis-key", compact=True
                ),
                Input(placeholder="[0.01, 0.1]", id=f"axis-values-{index}", compact=True),
                classes="field",
            )
            self.query_one("#form").mount(row, before=self.query_one("#sweep-error"))

    def revalidate(self) -> None:
        data = self.form_data()
        self.checked = edit.check(data)
        for spec in self.specs:
            message = self.checked.errors.get(spec.key, "")
            error = self.query_one(f"#{field_id(spec)}-error", Static)
            error.update(Text(message, style="red"))
            error.display = bool(message)
        sweep_problems = [f"axis {i + 1}: {m}" for i, m in self._axis_errors.items()]
        if "sweep" in self.checked.errors:
            sweep_problems.append(self.checked.errors["sweep"])
        self.query_one("#sweep-error", Static).update(Text("\n".join(sweep_problems), style="red"))
        self._update_side(data)

    def _update_side(self, data: dict[str, Any]) -> None:
        summary = self.query_one("#summary", Static)
        preset = self.checked.preset
        if preset is None or self.checked.errors:
            count = len(self.checked.errors) + len(self._axis_errors)
            summary.update(Text(f"{count} problem(s): fix them to save or launch", style="red"))
            return
        runs = self.checked.runs
        epochs = sum(run.config.train.epochs for run in runs)
        lines = f"valid: {len(runs)} run(s), {epochs} run-epochs\n" + "\n".join(
            r.name for r in runs[:8]
        )
        summary.update(Text(lines, style="green"))
        chart = self.query_one("#lr-preview", MetricChart)
        series = []
        for index, run in enumerate(runs[:8]):
            cfg = run.config
            curve = lr_curve(cfg.schedule, cfg.optim.lr, cfg.train.epochs)
            xs = [float(e + 1) for e in range(len(curve))]
            series.append(
                (run.name, xs, curve, ("cyan", "orange", "green", "magenta")[index % 4], LINE)
            )
        chart.show(series)
        key = json.dumps({k: data[k] for k in ("data", "model")}, sort_keys=True, default=str)
        if key != self._params_key:
            self._params_key = key
            self.query_one("#params", Static).update(Text("parameters: counting…", style="dim"))
            self.count_parameters(self._preset_text())

    # -- parameter counts, in another process (the app never imports torch) ---------------------

    @work(thread=True, exclusive=True, group="params", exit_on_error=False)
    def count_parameters(self, preset_text: str) -> None:
        with tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False) as handle:
            handle.write(preset_text)
        try:
            result = subprocess.run(
                [sys.executable, "-m", "tui_trainer", "params", handle.name],
                capture_output=True,
                text=True,
                timeout=120,
            )
        finally:
            Path(handle.name).unlink(missing_ok=True)
        if result.returncode != 0:
            text = Text(
                "parameters: " + (result.stderr.strip().splitlines() or ["?"])[-1], style="red"
            )
        else:
            counts = json.loads(result.stdout)
            first = next(iter(counts.values()))
            text = Text(f"parameters: {first['total']:,} total, {first['trainable']:,} trainable")
            distinct = {(c["total"], c["trainable"]) for c in counts.values()}
            if len(distinct) > 1:
                text.append(f" (first of {len(counts)} runs; they differ)", style="dim")
        self.app.call_from_thread(self.query_one("#params", Static).update, text)

    # -- saving and launching ------------------------------------------------------------------

    def _preset_text(self, name: str | None = None) -> str:
        preset = self.checked.preset
        assert preset is not None
        if name is not None:
            preset = preset.model_copy(
                update={"study": preset.study.model_copy(update={"name": name})}
            )
        return edit.preset_document(self.original_text, preset, self.baseline)

    def action_save(self) -> None:
        if self.checked.preset is None or self.checked.errors:
            self.notify("fix the problems first", severity="error")
            return

        def save(name: str | None) -> None:
            if not name:
                return
            try:
                edit.StudyPreset.model_validate(
                    {**self.checked.preset.model_dump(), "study": {"name": name}}
                )
            except Exception:
                self.notify(f"{name!r} is not a valid preset name", severity="error")
                return
            path = self.app.user_presets_dir / f"{name}.toml"
            try:
                # the user's own folder: a symlinked one (a dotfiles repository) is followed,
                # and so is a preset file that links there; the file is replaced atomically,
                # so an entry of that name that is not a file (a FIFO) is never opened
                path.parent.mkdir(parents=True, exist_ok=True)
                target = Path(os.path.realpath(path)) if path.is_symlink() else path
                write_text_atomic(target, self._preset_text(name), durable=True)
            except OSError as error:
                self.app.tell(f"cannot write {error.filename or path}: {error.strerror}", "error")
                return
            self.app.add_preset(path)
            self.app.tell(f"saved {path}")

        self.app.push_screen(AskName(f"{self.checked.preset.study.name}-edited"), save)

    def action_launch(self) -> None:
        if self.checked.preset is None or self.checked.errors:
            self.notify("fix the problems first", severity="error")
            return
        name = self.checked.preset.study.name
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        path = self.app.runs_dir / ".edited" / f"{name}-{stamp}.toml"
        try:
            # never through a symlinked .edited, nor over an existing entry
            write_new_file(own_directory(path.parent) / path.name, self._preset_text().encode())
        except OSError as error:  # an unwritable runs directory: say so, stay here
            self.app.tell(
                f"cannot write {error.filename or path}: {error.strerror or error}", "error"
            )
            return
        self.app.launch_study(path, [], name)
