"""Text from HR or a target, shown in a terminal exactly as it is: never Rich markup,
never a control sequence (SPEC "Fail closed").

`literal(value)` is a `rich.text.Text` (which Rich never parses as markup: `[/]` and
`[link=...]` stay characters) of `jml.text.visible(value)`: every character that is not
printable written as its escape, so no value can end a table line, move the cursor,
open a hyperlink or reverse the text; and redacted. `table(title,
columns, rows)` builds a table whose title and every cell are literal; every table of
the CLI and the demo is made by it, and every message quoting such text uses `literal`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from rich.table import Table
from rich.text import Text

from jml.text import visible

__all__ = ["literal", "table"]


def literal(value: object, style: str = "") -> Text:
    """`value` as terminal text shown as it is (see the module docstring)."""
    return Text(visible(value), style=style)


def table(title: str, columns: Sequence[str], rows: Iterable[Sequence[object]], *, right: bool = False) -> Table:
    """A table of literal cells (`right`: numbers, aligned right)."""
    shown = Table(title=literal(title))
    for column in columns:
        shown.add_column(literal(column), justify="right" if right else "left")
    for row in rows:
        shown.add_row(*(literal(value) for value in row))
    return shown
