"""Text that did not come from jml (HR fields, a target's answers, a feed's column names)
made safe to show: `visible(value)` is `value` as a string (None: empty) with every
character that is not printable written as its Python escape (`\\n`, `\\x1b`,
`\\u202e`), so it cannot end a line, move a terminal's cursor, open a hyperlink or
reverse the text around it, and with every secret value jml knows redacted
(`jml.secrets.redact`). The CLI (`app.render`) and the run's Markdown artifacts
(`pipeline.report`) show text through it.
"""

from __future__ import annotations

from jml.secrets import redact

__all__ = ["visible"]


def visible(value: object) -> str:
    """`value` as printable, redacted text (see the module docstring)."""
    text = "" if value is None else str(value)
    if not text.isprintable():
        text = "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in text)
    return redact(text)
