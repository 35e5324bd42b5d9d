"""The editor: the preset's form (ui/widgets/preset_form.py: every key as a typed field, each
error beside it as you type, the sweep's axes), `ctrl+f` to jump to a key by part of its name,
a step-by-step preview of the learning-rate
schedule (a curve per distinct schedule of the runs: a swept rate shows each), the model's
parameter counts; save as a new preset (comments kept, the original's opening notes replaced by
where it came from; config/edit.save_preset refuses, writing nothing, what would not load back),
or launch.

After a save the editor edits the saved preset (its name, its file), so launching from here
launches it under its new name, and `esc` asks first only about edits not saved yet.

Parameter counts need torch, which the app never imports: `tui-trainer params` runs in another
process, from a thread worker of the app's (one count at a time: a newer form cancels an older
count, and a count that comes back for a form that has changed since is dropped). Its answer
comes back as a message; a failure (non-zero exit, a timeout, output that is not the expected
JSON) is shown in place of the count."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Header, Input, Static
from textual.worker import get_current_worker

from tui_trainer.config import edit
from tui_trainer.config.load import load_preset, read_preset_text
from tui_trainer.config.presets import is_builtin_name
from tui_trainer.config.schedule import preview_curves
from tui_trainer.errors import ConfigError
from tui_trainer.store.files import own_directory, write_new_file
from tui_trainer.ui.navigation import PresetSaved, Trainer
from tui_trainer.ui.param_count import count_parameters, not_counted
from tui_trainer.ui.paths import display_path
from tui_trainer.ui.screens.find_key import FindKey
from tui_trainer.ui.tell import tell
from tui_trainer.ui.widgets.charts import LINE, MetricChart
from tui_trainer.ui.widgets.confirm import AnswerByTyping, Confirm
from tui_trainer.ui.widgets.preset_form import FormCheck, PresetForm
from tui_trainer.ui.widgets.ready_footer import ReadyFooter

# each preview curve's colour, as the chart (plotext) and its legend (rich) name it
PREVIEW_COLOURS = (
    ("cyan", "cyan"),
    ("orange", "dark_orange"),
    ("green", "green"),
    ("magenta", "magenta"),
)


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

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal():
            yield PresetForm(self.specs, self.baseline, id="form")
            with Vertical(id="side"):
                yield MetricChart("learning rate, step by step (x: epoch)", id="lr-preview")
                yield Static(id="params")
                yield Static(id="summary")
        yield ReadyFooter()

    @property
    def form(self) -> PresetForm:
        return self.query_one(PresetForm)

    def on_mount(self) -> None:
        self.sub_title = f"editing {display_path(self.preset_path)}"
        self._show(self.form.check())
        self._saved_form = self.form.snapshot()
        # typing goes into the first field at once (the screen's own first focus comes only
        # after the fields' first changes are handled: keys typed before it would be lost)
        self.form.field(self.specs[0].key).focus()

    def action_find_key(self) -> None:
        """Ask for part of a key's name, then focus that field (scrolled into view)."""

        def jump(key: str | None) -> None:
            if any(spec.key == key for spec in self.specs):
                self.form.field(key).focus()  # type: ignore[arg-type]

        self.app.push_screen(FindKey([spec.key for spec in self.specs]), jump)

    @property
    def unsaved(self) -> bool:
        return self.form.snapshot() != self._saved_form

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

    # -- what the form says: the side panel ----------------------------------------------------

    def on_preset_form_changed(self, message: PresetForm.Changed) -> None:
        self._show(message.check)

    def _show(self, check: FormCheck) -> None:
        self.checked = check.checked
        summary = self.query_one("#summary", Static)
        preset = self.checked.preset
        if preset is None or self.checked.errors:
            summary.update(
                Text(f"{check.problems} problem(s): fix them to save or launch", style="red")
            )
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
        data = check.data
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

    @property
    def _source(self) -> str:
        """Where the edit came from, as its saved file's opening line says."""
        return f"{self.preset_path.stem} ({display_path(self.preset_path)})"

    def _preset_text(self) -> str:
        preset = self.checked.preset
        assert preset is not None
        text = edit.preset_document(self.original_text, preset, self.baseline)
        return edit.with_edited_header(text, self._source, datetime.now())

    def action_save(self) -> None:
        if self.checked.preset is None or self.checked.errors:
            self.notify("fix the problems first", severity="error")
            return

        def save(name: str | None) -> None:
            preset = self.checked.preset
            if not name or preset is None:
                return
            if is_builtin_name(name):
                self.notify(
                    f"{name!r} is a built-in preset's name: choose another", severity="error"
                )
                return
            path = self.user_presets_dir / f"{name}.toml"
            named = preset.model_copy(
                update={"study": preset.study.model_copy(update={"name": name})}
            )
            try:
                # the user's own folder: a symlinked one (a dotfiles repository) is followed,
                # and so is a preset file that links there
                text = edit.save_preset(
                    path, self.original_text, named, self.baseline, edited_from=self._source
                )
            except ConfigError as error:  # it would not load back (a name no preset can have)
                tell(self, f"not saved: {error}", "error")
                return
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
        self.form.field("study.name").value = name
        self._show(self.form.check())
        if self.checked.preset is not None:
            self.baseline = self.checked.preset.model_dump()
        self._saved_form = self.form.snapshot()
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
