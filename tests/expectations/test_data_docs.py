"""The Data Docs of a run: GX's own site builder renders each source's validation into
a static site; a failed rule's table names the rule and the failing rows, never the
values (no name or email of the feed reaches any file of the site)."""

from __future__ import annotations

import html
import re
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

from expectations.data_docs import DataDocsError, build_data_docs
from expectations.runner import validate_feed
from tests.expectations.test_hr_feed_suite import feed, person

ROWS = [
    person(1),
    person(2, email="grace.hopper-at-example.com", first_name="Grace", last_name="Hopper"),
    person(3),
    person(4, hire_date="2024-02-30", first_name="Alan", last_name="Turing", email="alan.turing@example.com"),
    person(5),
]
#: What the feed says of the people of the bad rows: none of it may be in the site.
PERSONAL = (
    "Grace",
    "Hopper",
    "grace.hopper",
    "Alan",
    "Turing",
    "alan.turing",
    "2024-02-30",
    "First1",
    "user1@example.com",
)


def page_text(url: str) -> str:
    """The text of a page (scripts, styles and tags removed, whitespace squeezed)."""
    page = path_of(url).read_text(encoding="utf-8")
    page = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page)))


def path_of(url: str) -> Path:
    parsed = urlparse(url)
    assert parsed.scheme == "file", url
    return Path(unquote(parsed.path))


@pytest.fixture(scope="module")
def result():
    checked = validate_feed(feed(ROWS), source="hr", max_invalid_fraction=1.0)
    assert checked.invalid == 2
    return checked.result


def test_the_page_names_the_broken_rules_and_their_rows_and_no_personal_data(tmp_path, result):
    docs = build_data_docs({"hr": result}, tmp_path / "docs", run_name="run-7")
    assert path_of(docs.index) == tmp_path / "docs" / "index.html"
    assert path_of(docs.index).is_file()
    text = page_text(docs.pages["hr"])
    assert "run-7" in text and "Status: Failed" in text
    # the email of line 3 broke email_valid, the hire date of line 5 hire_date_real
    assert "email_valid: value not shown 1 3" in text
    assert "hire_date_real: value not shown 1 5" in text
    assert "values must match this regular expression" in text  # GX's own words for the rule
    site = [path for path in (tmp_path / "docs").rglob("*") if path.suffix in {".html", ".json"}]
    assert any(path.suffix == ".json" for path in site) and len(site) >= 3
    for path in site:
        content = path.read_text(encoding="utf-8")
        leaked = [value for value in PERSONAL if value in content]
        assert not leaked, f"{path} holds {leaked}"


def test_each_run_keeps_its_pages_and_the_index_lists_every_run(tmp_path, result):
    first = build_data_docs({"hr": result}, tmp_path, run_name="run-1")
    second = build_data_docs({"hr": result, "contractors": result}, tmp_path, run_name="run-2")
    assert first.index == second.index
    assert set(second.pages) == {"hr", "contractors"}
    pages = [first.pages["hr"], *second.pages.values()]
    assert len(set(pages)) == 3 and all(path_of(page).is_file() for page in pages)
    index = path_of(second.index).read_text(encoding="utf-8")
    for page in pages:
        assert path_of(page).relative_to(tmp_path).as_posix() in index


def test_a_folder_with_a_space_gives_a_percent_encoded_url(tmp_path, result):
    docs = build_data_docs({"hr": result}, tmp_path / "data docs", run_name="run-1")
    assert " " not in docs.index and "%20" in docs.index
    assert path_of(docs.index).is_file()


def test_a_folder_that_cannot_be_written_is_one_line_naming_it(tmp_path, result):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(DataDocsError) as caught:
        build_data_docs({"hr": result}, blocker / "docs", run_name="run-1")
    message = str(caught.value)
    assert message.startswith(f"data docs not written to {blocker / 'docs'}: ") and "\n" not in message
    # the builder is usable again afterwards
    assert path_of(build_data_docs({"hr": result}, tmp_path / "docs", run_name="run-2").index).is_file()
