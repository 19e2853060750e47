"""What the CLI shows of HR or target text (app.render): literally, never as Rich
markup, never as a control sequence (issue 14, finding 9)."""

from __future__ import annotations

import io

from hypothesis import given
from hypothesis import strategies as st
from rich.console import Console

from app.render import literal, table


def shown(renderable, width: int = 100) -> str:
    out = io.StringIO()
    Console(file=out, width=width, color_system=None, force_terminal=False).print(renderable)
    return out.getvalue()


def test_markup_stays_text():
    text = shown(table("t", ["manager_id"], [["[/]"], ["[link=https://evil.example]x[/link]"], ["[bold]b"]]))
    assert "[/]" in text and "[link=https://evil.example]x[/link]" in text and "[bold]b" in text


def test_control_characters_are_written_as_escapes():
    assert literal("a\nb").plain == "a\\nb"
    assert literal("\x1b]8;;https://evil.example\x1b\\x").plain == "\\x1b]8;;https://evil.example\\x1b\\x"
    assert literal("left\u202eright").plain == "left\\u202eright"
    assert literal(None).plain == "" and literal(12).plain == "12"


@given(st.lists(st.text(), min_size=1, max_size=4))
def test_any_text_renders_in_a_table_as_it_is_on_its_own_lines(values):
    text = shown(table("exceptions", [f"c{i}" for i in range(len(values))], [values, values]))
    assert all(ch.isprintable() or ch == "\n" for ch in text), repr(text)
    assert "\x1b" not in text
