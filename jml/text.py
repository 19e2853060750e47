"""Text that did not come from jml (HR fields, a target's answers, a feed's column names)
made safe to show: `visible(value)` is `value` as a string (None: empty) with every
character that is not printable written as its Python escape (`\\n`, `\\x1b`,
`\\u202e`), so it cannot end a line, move a terminal's cursor, open a hyperlink or
reverse the text around it, and with every secret value jml knows redacted
(`jml.secrets.redact`). The CLI (`app.render`) and the run's Markdown artifacts
(`pipeline.report`) show text through it.

`spreadsheet_cell(value)` is `value` as a CSV cell a spreadsheet shows as text: one that
starts like a formula (`=`, `+`, `-`, `@`, a tab or a carriage return: OWASP "CSV
injection") gets a leading `'`, which spreadsheets take as "this cell is text". (The
feed quarantines HR text that starts like a formula before it reaches a target,
`expectations.hr_feed`; an export neutralises instead, since it must show every row.)
"""

from __future__ import annotations

from jml.secrets import redact

__all__ = ["FORMULA_START", "spreadsheet_cell", "visible"]

#: The first characters that make a spreadsheet read a cell as a formula.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _text(value: object) -> str:
    return "" if value is None else str(value)


def visible(value: object) -> str:
    """`value` as printable, redacted text (see the module docstring)."""
    text = _text(value)
    if not text.isprintable():
        text = "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in text)
    return redact(text)


def spreadsheet_cell(value: object) -> str:
    """`value` as a CSV cell shown as text, never run as a formula (see the module docstring)."""
    text = _text(value)
    return "'" + text if text.startswith(FORMULA_START) else text
