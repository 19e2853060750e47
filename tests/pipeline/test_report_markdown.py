"""The run's Markdown summary artifact shows text that did not come from jml (a halt
naming a feed's column headers, a target's name) as the characters it is: never a
link, an image, HTML, emphasis, a heading or another table row (SPEC "Fail closed":
artifacts escape Markdown)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from jml.text import visible
from pipeline.report import markdown_literal, summary_markdown

PARSER = MarkdownIt("commonmark").enable("table")


def inline_tokens(markdown: str) -> list:
    return [child for token in PARSER.parse(markdown) if token.type == "inline" for child in token.children or []]


def document(halt: str, target: str) -> dict:
    return {
        "run_id": 7,
        "status": "halted",
        "as_of": "2026-12-01",
        "dry_run": False,
        "halt": halt,
        "operations": {"planned": 1, "applied": 0, "failed": 0, "parked": 0},
        "exceptions_open": 1,
        "exceptions_opened": 1,
        "exceptions_closed": 0,
        "persons": {"joiners": 0, "movers": 0, "leavers": 0},
        "feed": {"rows": 1, "invalid": 0},
        "per_target": {target: {"create": 1}},
        "timings": {},
        "audit_head": "0" * 64,
    }


def test_a_column_header_with_markdown_stays_text():
    halt = "feed hr names column(s) more than once: [click](https://evil.example), <img src=x>, **x**"
    tokens = inline_tokens("x" + markdown_literal(halt) + "x")
    assert [t.type for t in tokens] == ["text"]
    assert tokens[0].content == "x" + halt + "x"


def test_a_newline_cannot_forge_a_table_row():
    markdown = summary_markdown(document("halt", "app | 999 |\n| forged"))
    rows = [t for t in PARSER.parse(markdown) if t.type == "tr_open"]
    # the three tables (operations, persons, targets) have two rows each: header and one
    assert len(rows) == 6
    assert "forged" not in [line.strip("| ") for line in markdown.splitlines()]


@given(st.text(max_size=60))
def test_any_text_renders_as_its_visible_characters(text):
    tokens = inline_tokens("x" + markdown_literal(text) + "x")
    assert [t.type for t in tokens] == ["text"], tokens
    assert tokens[0].content == "x" + visible(text) + "x"


@given(st.text(max_size=40), st.text(max_size=40))
def test_any_halt_and_target_name_leave_the_summary_s_structure_alone(halt, target):
    tokens = PARSER.parse(summary_markdown(document(halt, target)))
    assert [t.type for t in tokens if t.type.endswith("_open")].count("table_open") == 3
    assert not [t for t in tokens for c in t.children or [] if c.type in ("link_open", "image", "html_inline", "em_open")]


def test_the_data_docs_line_shows_the_pages_urls_as_code_to_copy():
    docs = {
        "index": "file:///srv/jml/data%20docs/index.html",
        "pages": {"hr_2.x": "file:///srv/jml/data%20docs/validations/hr_feed/run-7/t/hr_2.x.html"},
    }
    tokens = inline_tokens(summary_markdown({**document("", "app"), "halt": None, "data_docs": docs}))
    shown = [t.content for t in tokens if t.type == "code_inline" and t.content.startswith("file:")]
    assert shown == [docs["pages"]["hr_2.x"], docs["index"]]
    assert "source hr_2.x: " in "".join(t.content for t in tokens if t.type in ("text", "text_special"))
    assert "Data Docs" not in summary_markdown(document("", "app"))  # a run that built none
