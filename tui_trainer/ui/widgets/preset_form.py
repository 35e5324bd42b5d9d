"""The editor's form: every key of the schema as a typed field (choices as selects, switches that
say on/off in words, validated text) with its error beside it, then the sweep's axes, always
with a spare row for another.

Attributes down, messages up: the form is made from a preset's values (its `baseline`) and the
field specs, validates itself as it is edited (config/edit.py's `check`, as `tui-trainer run`
would) and tells its screen with `PresetForm.Changed`, which carries the form's data and what
checking it found. The screen also asks it directly (`check()`, `snapshot()`) where it needs
the answer at once: as it mounts, and after a save."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.widgets import Input, Label, Select, Static, Switch

from tui_trainer.config import edit

# The one empty sweep row says what goes there; rows of axes say nothing (an example in every
# row read as four entries).
AXIS_KEY_HINT, AXIS_VALUES_HINT = "add an axis: e.g. optim.lr", "its values: e.g. [0.01, 0.1]"


def field_id(spec: edit.FieldSpec) -> str:
    return f"f-{spec.section}-{spec.name}"


def on_off(value: bool) -> Text:
    """A switch's state in words: it reads without colour (NO_COLOR)."""
    return Text("on", style="bold") if value else Text("off", style="dim")


@dataclass
class FormCheck:
    """What the form says (`data`, as config/edit.check takes it) and what checking it found:
    the schema's and the sweep's problems (`checked`), and those of sweep rows that are not
    axes yet (`axis_errors`, by row)."""

    data: dict[str, Any]
    checked: edit.Checked
    axis_errors: dict[int, str]

    @property
    def problems(self) -> int:
        return len(self.checked.errors) + len(self.axis_errors)


class PresetForm(VerticalScroll):
    """Every editable key of a preset, and its sweep."""

    @dataclass
    class Changed(Message):
        """A field or a sweep row changed: the form as it is now, checked."""

        form: PresetForm
        check: FormCheck

    def __init__(
        self, specs: list[edit.FieldSpec], baseline: dict[str, Any], id: str | None = None
    ) -> None:
        """`baseline`: the preset's values (its model_dump), shown as the fields' first
        values."""
        super().__init__(id=id)
        self.specs = specs
        self.baseline = baseline

    def compose(self) -> ComposeResult:
        section = ""
        for spec in self.specs:
            if spec.section != section:
                section = spec.section
                yield Static(Text(f"[{section}]", style="bold"), classes="section")
            with Horizontal(classes="field"):
                yield Label(spec.name, classes="field-name")
                yield self._field(spec)
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

    def _field(self, spec: edit.FieldSpec) -> Input | Select | Switch:
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

    def field(self, key: str) -> Input | Select | Switch:
        """The field of a config key (`optim.lr`)."""
        spec = next(spec for spec in self.specs if spec.key == key)
        return self.query_one(f"#{field_id(spec)}")  # type: ignore[return-value]

    # -- reading the form ----------------------------------------------------------------------

    def _axes(self) -> list[tuple[str, str]]:
        """The sweep rows as typed, (key, values)."""
        return [
            (
                self.query_one(f"#axis-key-{index}", Input).value,
                self.query_one(f"#axis-values-{index}", Input).value,
            )
            for index in range(len(self.query(".axis-key")))
        ]

    def snapshot(self) -> tuple:
        """What the form says, field by field (empty sweep rows left out): a form differs from
        an earlier one, as the user sees it, exactly when its snapshot does."""
        values: list[tuple[str, Any]] = [
            (spec.key, self.field(spec.key).value) for spec in self.specs
        ]
        for key, axis in self._axes():
            if key.strip() or axis.strip():
                values.append((key.strip(), axis.strip()))
        return tuple(values)

    def check(self) -> FormCheck:
        """The form's data, checked; each problem shown beside its field or under the sweep."""
        data: dict[str, Any] = {section: {} for section in edit.EDITED_SECTIONS}
        for spec in self.specs:
            widget = self.field(spec.key)
            if isinstance(widget, Select):
                value = None if widget.value is Select.NULL else widget.value
            elif isinstance(widget, Switch):
                value = widget.value
            else:
                value = edit.parse_text(widget.value, spec)
            if value is not None:
                data[spec.section][spec.name] = value
        data["sweep"], axis_errors = edit.parse_sweep(self._axes())
        result = FormCheck(data, edit.check(data), axis_errors)
        self._show_problems(result)
        return result

    def _show_problems(self, result: FormCheck) -> None:
        errors = result.checked.errors
        for spec in self.specs:
            message = errors.get(spec.key, "")
            error = self.query_one(f"#{field_id(spec)}-error", Static)
            error.update(Text(message, style="red"))
            error.display = bool(message)
        sweep_problems = [f"axis {i + 1}: {m}" for i, m in result.axis_errors.items()]
        if "sweep" in errors:
            sweep_problems.append(errors["sweep"])
        self.query_one("#sweep-error", Static).update(Text("\n".join(sweep_problems), style="red"))

    # -- as it is edited -----------------------------------------------------------------------

    @on(Input.Changed)
    @on(Select.Changed)
    @on(Switch.Changed)
    def _edited(self, event: Input.Changed | Select.Changed | Switch.Changed) -> None:
        event.stop()  # the form's own Changed says it, checked
        if isinstance(event, Input.Changed) and event.input.has_class("axis-key"):
            self._keep_a_spare_axis_row()
        if isinstance(event, Switch.Changed) and event.switch.id:
            self.query_one(f"#{event.switch.id}-state", Static).update(on_off(event.value))
        self.post_message(self.Changed(self, self.check()))

    def _keep_a_spare_axis_row(self) -> None:
        """Typing into the last axis row adds an empty one below it: there is always room for
        another axis."""
        keys = list(self.query(".axis-key").results(Input))
        if keys and keys[-1].value.strip():
            index = len(keys)
            keys[-1].placeholder = ""
            self.query_one(f"#axis-values-{index - 1}", Input).placeholder = ""
            row = self._axis_row(index, "", "", spare=True)
            self.mount(row, before=self.query_one("#sweep-error"))
