"""The editor: every key of the schema as a typed field (choices as selects, switches that say
on/off in words, validated text), each error beside its field as you type, `ctrl+f` to jump to
a key by part of its name, the sweep's axes, a step-by-step preview of the learning-rate
schedule (a curve per distinct schedule of the runs: a swept rate shows each), the model's
parameter counts; save as a new preset (comments kept, the original's opening notes replaced by
where it came from), or launch.

After a save the editor edits the saved preset (its name, its file), so launching from here
launches it under its new name, and `esc` asks first only about edits not saved yet.

Parameter counts need torch, which the app never imports: `tui-trainer params` runs in another
process, from a thread worker of the app's (one count at a time: a newer form cancels an older
count, and a count that comes back for a form that has changed since is dropped). Its answer
comes back as a message; a failure (non-zero exit, a timeout, output that is not the expected
JSON) is shown in place of the count."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Header, Input, Label, Select, Static, Switch
from textual.worker import get_current_worker

from tui_trainer.config import edit
from tui_trainer.config.load import load_preset, read_preset_text
from tui_trainer.config.presets import is_builtin_name
from tui_trainer.config.schedule import preview_curves
from tui_trainer.store.atomic import write_text_atomic
from tui_trainer.store.files import own_directory, write_new_file
from tui_trainer.ui.navigation import PresetSaved, Trainer
from tui_trainer.ui.param_count import count_parameters, not_counted
from tui_trainer.ui.paths import display_path
from tui_trainer.ui.screens.find_key import FindKey
from tui_trainer.ui.tell import tell
from tui_trainer.ui.widgets.charts import LINE, MetricChart
from tui_trainer.ui.widgets.confirm import AnswerByTyping, Confirm
from tui_trainer.ui.widgets.ready_footer import ReadyFooter

# each preview curve's colour, as the chart (plotext) and its legend (rich) name it
PREVIEW_COLOURS = (
    ("cyan", "cyan"),
    ("orange", "dark_orange"),
    ("green", "green"),
    ("magenta", "magenta"),
)

# The one empty sweep row says what goes there; rows of axes say nothing (an example in every
# row read as four entries).
AXIS_KEY_HINT, AXIS_VALUES_HINT = "add an axis: e.g. optim.lr", "its values: e.g. [0.01, 0.1]"


def field_id(spec: edit.FieldSpec) -> str:
    return f"f-{spec.section}-{spec.name}"


def on_off(value: bool) -> Text:
    """A switch's state in words: it reads without colour (NO_COLOR)."""
    return Text("on", style="bold") if value else Text("off", style="dim")


class AskName(AnswerByTyping):
    """Asks for the new preset's name."""

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


class EditorScreen(Screen):
    BINDINGS = [
        ("ctrl+f", "find_key", "Go to key"),
        ("ctrl+s", "save", "Save as"),
        ("ctrl+l", "launch", "Launch"),
        ("escape", "back", "Back"),
    ]

    @dataclass
    class ParamsCounted(Message):
        """A parameter count (or why there is none) for the form whose model and data are
        `key`."""

        key: str
        text: Text

    def __init__(self, preset: Path, user_presets_dir: Path, runs_dir: Path) -> None:
        """`user_presets_dir`: where a preset is saved; `runs_dir`: where a launched edit's
        preset is kept (its .edited folder)."""
        super().__init__()
        self.preset_path = preset
        self.user_presets_dir = user_presets_dir
        self.runs_dir = runs_dir
        self.original_text = read_preset_text(preset)
        loaded = load_preset(preset)
        self.baseline: dict[str, Any] = loaded.preset.model_dump()
        self.specs = edit.field_specs()
        self.checked = edit.Checked(loaded.preset, loaded.runs, {})
        self._params_key = ""
        self._saved_form: tuple = ()  # the form as last loaded or saved: edits are what differ

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
                        if spec.kind == "switch":
                            value = bool(self.baseline[spec.section][spec.name])
                            yield Static(
                                on_off(value), id=f"{field_id(spec)}-state", classes="switch-state"
                            )
                    yield Static("", id=f"{field_id(spec)}-error", classes="field-error")
                yield Static(
                    Text("[sweep]  key = [values], one run per combination", style="bold"),
                    classes="section",
                )
                axes = list(self.baseline["sweep"].items())
                for index, (key, values) in enumerate(axes):
                    text = edit.format_value(values, edit.FieldSpec("sweep", key, "text"))
                    yield self._axis_row(index, key, text, spare=False)
                yield self._axis_row(len(axes), "", "", spare=True)
                yield Static("", id="sweep-error", classes="field-error")
            with Vertical(id="side"):
                yield MetricChart("learning rate, step by step (x: epoch)", id="lr-preview")
                yield Static(id="params")
                yield Static(id="summary")
        yield ReadyFooter()

    @staticmethod
    def _axis_row(index: int, key: str, values: str, spare: bool) -> Horizontal:
        """A sweep row; the spare one (always the last) carries the hints."""
        return Horizontal(
            Input(
                value=key,
                placeholder=AXIS_KEY_HINT if spare else "",
                id=f"axis-key-{index}",
                classes="axis-key",
                compact=True,
            ),
            Input(
                value=values,
                placeholder=AXIS_VALUES_HINT if spare else "",
                id=f"axis-values-{index}",
                compact=True,
            ),
            classes="field",
        )

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
        self.sub_title = f"editing {display_path(self.preset_path)}"
        self.revalidate()
        self._saved_form = self.form_snapshot()
        # typing goes into the first field at once (the screen's own first focus comes only
        # after the fields' first changes are handled: keys typed before it would be lost)
        self.query_one(f"#{field_id(self.specs[0])}").focus()

    def action_find_key(self) -> None:
        """Ask for part of a key's name, then focus that field (scrolled into view)."""

        def jump(key: str | None) -> None:
            spec = next((spec for spec in self.specs if spec.key == key), None)
            if spec is not None:
                self.query_one(f"#{field_id(spec)}").focus()

        self.app.push_screen(FindKey([spec.key for spec in self.specs]), jump)

    def form_snapshot(self) -> tuple:
        """What the form says, widget by widget (empty sweep rows left out)."""
        values: list[tuple[str, Any]] = []
        for spec in self.specs:
            widget = self.query_one(f"#{field_id(spec)}")
            values.append((spec.key, getattr(widget, "value", None)))
        for index in range(len(self.query(".axis-key"))):
            key = self.query_one(f"#axis-key-{index}", Input).value.strip()
            axis = self.query_one(f"#axis-values-{index}", Input).value.strip()
            if key or axis:
                values.append((key, axis))
        return tuple(values)

    @property
    def unsaved(self) -> bool:
        return self.form_snapshot() != self._saved_form

    def action_back(self) -> None:
        """Back to the presets; with edits not saved, only once you say to drop them."""
        if not self.unsaved:
            self.dismiss()
            return

        def answer(drop: bool | None) -> None:
            if drop:
                self.dismiss()

        self.app.push_screen(
            Confirm("Leave the editor? Your edits are not saved (ctrl+s saves them)."), answer
        )

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
        if isinstance(event, Switch.Changed) and event.switch.id:
            self.query_one(f"#{event.switch.id}-state", Static).update(on_off(event.value))
        self.revalidate()

    def _keep_a_spare_axis_row(self) -> None:
        """Typing into the last axis row adds an empty one below it: there is always room for
        another axis."""
        keys = list(self.query(".axis-key").results(Input))
        if keys and keys[-1].value.strip():
            index = len(keys)
            keys[-1].placeholder = ""
            self.query_one(f"#axis-values-{index - 1}", Input).placeholder = ""
            row = self._axis_row(index, "", "", spare=True)
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
        chart = self.query_one("#lr-preview", MetricChart)
        series = []
        legend = Text(f"valid: {len(runs)} run(s), {epochs} run-epochs", style="green")
        colours: dict[str, str] = {}  # run name -> its curve's colour: the list is the legend
        for index, curve in enumerate(preview_curves(runs)[:8]):
            colour, legend_colour = PREVIEW_COLOURS[index % len(PREVIEW_COLOURS)]
            series.append((curve.runs[0], curve.xs, curve.lrs, colour, LINE))
            colours.update(dict.fromkeys(curve.runs, legend_colour))
        for run in runs[:8]:
            legend.append("\n── " if run.name in colours else "\n   ", style=colours.get(run.name))
            legend.append(run.name, style="green")
        summary.update(legend)
        chart.show(series)
        key = json.dumps({k: data[k] for k in ("data", "model")}, sort_keys=True, default=str)
        if key != self._params_key:
            self._params_key = key
            self.query_one("#params", Static).update(Text("parameters: counting…", style="dim"))
            self.app.run_worker(
                partial(self._count, key, self._preset_text()),
                name="parameter count",
                group="params",
                thread=True,
                exclusive=True,  # a newer form cancels the older count
                exit_on_error=False,  # the app's worker handler says what failed
            )

    # -- parameter counts, in another process (the app never imports torch) ---------------------

    def _count(self, key: str, preset_text: str) -> None:
        """In a thread worker: count, and post the answer unless a newer count took over."""
        worker = get_current_worker()
        try:
            text = count_parameters(preset_text, lambda: worker.is_cancelled)
        except Exception as error:  # shown here, and said by the app's worker handler
            self.post_message(self.ParamsCounted(key, not_counted(str(error))))
            raise
        if text is not None and not worker.is_cancelled:
            self.post_message(self.ParamsCounted(key, text))

    def on_editor_screen_params_counted(self, message: ParamsCounted) -> None:
        if message.key == self._params_key:  # else: for a form that has changed since
            self.query_one("#params", Static).update(message.text)

    # -- saving and launching ------------------------------------------------------------------

    def _preset_text(self, name: str | None = None) -> str:
        preset = self.checked.preset
        assert preset is not None
        if name is not None:
            preset = preset.model_copy(
                update={"study": preset.study.model_copy(update={"name": name})}
            )
        text = edit.preset_document(self.original_text, preset, self.baseline)
        source = f"{self.preset_path.stem} ({display_path(self.preset_path)})"
        return edit.with_edited_header(text, source, datetime.now())

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
            if is_builtin_name(name):
                self.notify(
                    f"{name!r} is a built-in preset's name: choose another", severity="error"
                )
                return
            path = self.user_presets_dir / f"{name}.toml"
            text = self._preset_text(name)
            try:
                # the user's own folder: a symlinked one (a dotfiles repository) is followed,
                # and so is a preset file that links there; the file is replaced atomically,
                # so an entry of that name that is not a file (a FIFO) is never opened
                path.parent.mkdir(parents=True, exist_ok=True)
                target = Path(os.path.realpath(path)) if path.is_symlink() else path
                write_text_atomic(target, text, durable=True)
            except OSError as error:
                tell(self, f"cannot write {error.filename or path}: {error.strerror}", "error")
                return
            self._adopt(path, name, text)
            self.post_message(PresetSaved(path))
            tell(self, f"saved {path}")

        self.app.push_screen(AskName(f"{self.checked.preset.study.name}-edited"), save)

    def _adopt(self, path: Path, name: str, text: str) -> None:
        """From now on the editor edits the saved preset: its name in the form, its file as the
        original, the form as saved."""
        self.preset_path = path
        self.original_text = text
        name_field = next(spec for spec in self.specs if spec.key == "study.name")
        self.query_one(f"#{field_id(name_field)}", Input).value = name
        self.revalidate()
        if self.checked.preset is not None:
            self.baseline = self.checked.preset.model_dump()
        self._saved_form = self.form_snapshot()
        self.sub_title = f"editing {display_path(path)}"

    def action_launch(self) -> None:
        if self.checked.preset is None or self.checked.errors:
            self.notify("fix the problems first", severity="error")
            return
        name = self.checked.preset.study.name
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        path = self.runs_dir / ".edited" / f"{name}-{stamp}.toml"
        try:
            # never through a symlinked .edited, nor over an existing entry
            write_new_file(own_directory(path.parent) / path.name, self._preset_text().encode())
        except OSError as error:  # an unwritable runs directory: say so, stay here
            tell(self, f"cannot write {error.filename or path}: {error.strerror or error}", "error")
            return
        self.post_message(Trainer.Launch(path, [], name))
