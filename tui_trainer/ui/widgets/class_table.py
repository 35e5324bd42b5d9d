"""Per-class precision, recall, F1 and support as a table that sorts: `s` (or a click on a
column's header) sorts by the next column (the same header again reverses). Figures sort worst
first, the class column in the matrix's order, so the classes that need looking at come to the
top."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import var
from textual.widgets import DataTable

from tui_trainer.store.per_class import ClassFigures

COLUMNS = ("class", "precision", "recall", "f1", "support")


def sorted_figures(
    figures: list[ClassFigures], column: str, reverse: bool
) -> list[tuple[int, ClassFigures]]:
    """(class number, figures) in the order the table shows: by `column`, figures worst first
    (then the matrix's order), `reverse` turning it round."""
    numbered = list(enumerate(figures))
    if column == "class":
        return numbered[::-1] if reverse else numbered
    ordered = sorted(numbered, key=lambda item: (getattr(item[1], column), item[0]))
    return ordered[::-1] if reverse else ordered


class PerClassTable(DataTable):
    """The figures handed down in `figures`; the sort in `sort` (column, reversed)."""

    figures: var[tuple[ClassFigures, ...]] = var((), init=False)
    sort: var[tuple[str, bool]] = var(("class", False), init=False)

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        self._rebuild()

    def watch_figures(self) -> None:
        self._rebuild()

    def watch_sort(self) -> None:
        self._rebuild()

    def _rebuild(self) -> None:
        self.clear(columns=True)
        column, reverse = self.sort
        for name in COLUMNS:
            mark = (" \u25bc" if reverse else " \u25b2") if name == column else ""
            justify = "left" if name == "class" else "right"
            self.add_column(Text(name + mark, justify=justify), key=name)  # type: ignore[arg-type]
        for number, figure in sorted_figures(list(self.figures), column, reverse):
            self.add_row(
                Text(f"{number:>2} {figure.name}"),
                *(
                    Text(f"{getattr(figure, name):.4f}", justify="right")
                    for name in ("precision", "recall", "f1")
                ),
                Text(str(figure.support), justify="right"),
                key=str(number),
            )

    def action_next_sort(self) -> None:
        column, _ = self.sort
        self.sort = (COLUMNS[(COLUMNS.index(column) + 1) % len(COLUMNS)], False)

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        event.stop()
        name = str(event.column_key.value)
        column, reverse = self.sort
        self.sort = (name, not reverse if name == column else False)
