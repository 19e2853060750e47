"""Generated identifiers (jml.naming): folding to ASCII, the character rules, the local
part's length, numbering (before the @ for an address, at the end within max_length for
an account name), and assignment: kept values first, unique against every holder,
numbered in the order given. Properties: a generated address always passes the feed's
email rule, and the assigned values are unique."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from expectations.hr_feed import EMAIL_REGEX
from jml.mapping import parse_template
from jml.naming import LOCAL_MAX, Wanted, assign, clean, email_address, numbered, split_address

DOMAIN = "@corp.example.com"
TEMPLATE = parse_template("{first_name}.{last_name}" + DOMAIN)


def address(first: str, last: str) -> str | None:
    rendered = TEMPLATE.render({"first_name": first, "last_name": last}.get)
    return email_address(rendered) if rendered is not None else None


@pytest.mark.parametrize(
    ("first", "last", "expected"),
    [
        ("José", "Müller", "jose.muller"),
        ("Hans", "Großmann", "hans.grossmann"),
        ("Søren", "Kierkegaard", "soren.kierkegaard"),
        ("Ægir", "Dæhlie", "aegir.daehlie"),
        ("Łukasz", "Wałęsa", "lukasz.walesa"),
        ("Þóra", "Þorsteinsdóttir", "thora.thorsteinsdottir"),
        ("Conan", "O'Brien", "conan.obrien"),
        ("Mary Ann", "Smith-Jones", "maryann.smith-jones"),
        ("Jean.", ".Luc", "jean.luc"),  # dots collapsed
        ("...Li", "Na...", "li.na"),  # and trimmed
        ("JANE", "DOE_2", "jane.doe_2"),
    ],
)
def test_names_fold_to_ascii_lowercase_and_the_allowed_characters(first, last, expected):
    assert address(first, last) == expected + DOMAIN


def test_a_name_that_folds_to_nothing_makes_no_address():
    assert address("'", "’’") is None
    assert address("!!", "...") is None
    assert email_address("no domain") is None
    assert email_address("jane@") is None


def test_the_local_part_is_cut_to_64_characters_without_a_dot_at_the_cut():
    long = address("a" * 40, "b" * 40)
    assert long is not None
    local, suffix = split_address(long)
    assert local == "a" * 40 + "." + "b" * 23 and len(local) == LOCAL_MAX and suffix == DOMAIN
    cut_at_dot = address("a" * 63, "b")
    assert cut_at_dot == "a" * 63 + DOMAIN


def test_numbers_go_before_the_at_for_an_address_and_at_the_end_of_an_account_name():
    assert numbered("jane.doe", 1, LOCAL_MAX, DOMAIN) == "jane.doe" + DOMAIN
    assert numbered("jane.doe", 2, LOCAL_MAX, DOMAIN) == "jane.doe2" + DOMAIN
    assert numbered("a" * 64, 12, LOCAL_MAX, DOMAIN) == "a" * 62 + "12" + DOMAIN
    assert numbered("jdoe", 2, 20) == "jdoe2"
    assert numbered("johnathan", 10, 8) == "johnat10"
    assert numbered("john.", 2, 6) == "john2"


def test_assign_numbers_new_people_in_order_past_every_holder():
    wanted = [Wanted(eid, "jane.doe", DOMAIN) for eid in ("E1", "E2", "E3")]
    holders = {"jane.doe" + DOMAIN: {""}, "jane.doe3" + DOMAIN: {"E9"}}
    assert assign(wanted, {}, holders, LOCAL_MAX) == {
        "E1": "jane.doe2" + DOMAIN,
        "E2": "jane.doe4" + DOMAIN,
        "E3": "jane.doe5" + DOMAIN,
    }


def test_assign_gives_back_a_kept_value_and_never_gives_it_to_anyone_else():
    wanted = [Wanted("E2", "jane.doe", DOMAIN), Wanted("E1", "jane.smith", DOMAIN)]
    reserved = {"E1": "jane.doe" + DOMAIN}  # E1 was Jane Doe; renamed, they keep it
    assert assign(wanted, reserved, {}, LOCAL_MAX) == {"E2": "jane.doe2" + DOMAIN, "E1": "jane.doe" + DOMAIN}


def test_a_value_the_person_holds_themselves_is_not_taken():
    wanted = [Wanted("E1", "JDoe")]
    assert assign(wanted, {}, {"jdoe": {"E1"}}, 20) == {"E1": "jdoe"}
    assert assign(wanted, {}, {"jdoe": {"E1", "E2"}}, 20) == {"E1": "jdoe2"}


names = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=80)


@given(first=names, last=names)
def test_a_generated_address_always_passes_the_feeds_email_rule(first, last):
    made = address(first, last)
    if made is not None:
        assert re.match(EMAIL_REGEX, made), made
        for n in (2, 99, 10**6):
            local, suffix = split_address(made)
            assert re.match(EMAIL_REGEX, numbered(local, n, LOCAL_MAX, suffix))


@given(
    people=st.lists(st.tuples(names, names), min_size=1, max_size=30),
    taken=st.lists(st.sampled_from(["a.b", "a.b2", "jose.muller", "x"]), max_size=4),
)
def test_assigned_addresses_are_unique_and_never_a_taken_one(people, taken):
    wanted = []
    for n, (first, last) in enumerate(people):
        made = address(first, last)
        if made is not None:
            wanted.append(Wanted(f"E{n}", *split_address(made)))
    holders = {value + DOMAIN: {""} for value in taken}
    assigned = assign(wanted, {}, holders, LOCAL_MAX)
    values = list(assigned.values())
    assert len(set(values)) == len(values) == len(wanted)
    assert not set(values) & set(holders)
    assert all(re.match(EMAIL_REGEX, value) for value in values)


def test_clean_is_the_character_rule_alone():
    assert clean("  Zoë  Ångström ") == "zoeangstrom"
    assert clean("a..b...c.") == "a.b.c"
