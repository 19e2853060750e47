"""The value-spec grammar (jml.mapping): picking, templates, the order of the steps,
what a template or a date format refuses, and that one record and whole columns agree."""

from __future__ import annotations

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from jml.mapping import Compiled, SpecField, ValueSpec, check_date_format, compile_spec, parse_template


def spec(**keys) -> ValueSpec:
    return ValueSpec.model_validate({"from" if key == "from_" else key: value for key, value in keys.items()})


def one(compiled: Compiled, record: dict[str, str | None]) -> str | None:
    """The value for one record, checked against the column-wise path."""
    single = compiled.value(record.get)
    assert compiled.values({name: [value] for name, value in record.items()}, 1) == [single]
    return single


def test_a_bare_string_under_fields_is_a_column_and_is_trimmed():
    compiled = compile_spec("first_name", "Legal First Name", bare="column")
    assert compiled.columns == ("Legal First Name",)
    assert one(compiled, {"Legal First Name": "  Jane "}) == "Jane"
    assert one(compiled, {"Legal First Name": "   "}) is None
    assert one(compiled, {}) is None


def test_a_bare_string_under_attributes_is_a_template():
    compiled = compile_spec("displayName", "{first_name} {last_name}", bare="template")
    assert compiled.columns == ("first_name", "last_name")
    assert one(compiled, {"first_name": "Jane", "last_name": "Doe"}) == "Jane Doe"
    assert one(compiled, {"first_name": "Jane", "last_name": ""}) is None  # an empty placeholder empties it
    assert one(compile_spec("company", "Acme {{EU}}", bare="template"), {}) == "Acme {EU}"


def test_a_mapping_without_from_or_template_reads_its_own_column():
    compiled = compile_spec("status", spec(case="lower"), bare="column")
    assert compiled.columns == ("status",)
    assert one(compiled, {"status": "ACTIVE"}) == "active"


def test_from_a_list_takes_the_first_non_empty_column():
    compiled = compile_spec("first_name", spec(from_=["Preferred", "Legal"]), bare="column")
    assert compiled.columns == ("Preferred", "Legal")
    assert one(compiled, {"Preferred": " ", "Legal": "Jane"}) == "Jane"
    assert one(compiled, {"Preferred": "Jo", "Legal": "Jane"}) == "Jo"
    assert one(compiled, {"Preferred": None, "Legal": None}) is None


def test_a_cut_takes_the_first_characters_of_the_trimmed_value():
    compiled = compile_spec("login", "{first:.1}{last:.7}", bare="template")
    assert one(compiled, {"first": " jane", "last": "Doe-Smithson"}) == "jDoe-Smi"


def test_map_passes_unlisted_values_unless_a_default_is_given():
    plain = compile_spec(
        "status", spec(from_="Worker Status", map={"On Leave": "leave", "Active": "active"}), bare="column"
    )
    assert one(plain, {"Worker Status": " On Leave "}) == "leave"
    assert one(plain, {"Worker Status": "Retired"}) == "Retired"
    fallback = compile_spec("employment_type", spec(map={"FT": "employee"}, default="contractor"), bare="column")
    assert one(fallback, {"employment_type": "FT"}) == "employee"
    assert one(fallback, {"employment_type": "Temp"}) == "contractor"
    assert one(fallback, {"employment_type": None}) == "contractor"


def test_the_steps_run_in_order_pick_trim_map_date_case_default():
    # map before date_format: the mapped text is what is parsed
    dated = compile_spec("hire_date", spec(map={"day one": "01/02/2026"}, date_format="%m/%d/%Y"), bare="column")
    assert one(dated, {"hire_date": "day one"}) == "2026-01-02"
    # case after map (the map's keys are compared as written), default after case (not cased)
    cased = compile_spec("x", spec(map={"A": "Mapped"}, case="upper", default="none"), bare="column")
    assert one(cased, {"x": "A"}) == "MAPPED"
    assert one(cased, {"x": None}) == "none"
    assert one(compile_spec("x", spec(case="lower", default="Unknown"), bare="column"), {"x": ""}) == "Unknown"


@pytest.mark.parametrize(
    ("fmt", "written", "expected"),
    [
        ("%m/%d/%Y", "03/02/2026", "2026-03-02"),
        ("%d.%m.%Y", "02.03.2026", "2026-03-02"),
        ("%Y-%m-%dT%H:%M:%S%z", "2026-03-02T23:30:00-0500", "2026-03-02"),  # kept as written, not UTC
        ("%m/%d/%Y", "2026-03-02", "2026-03-02"),  # does not parse: stays, the feed rules judge it
        ("%m/%d/%Y", "13/45/2026", "13/45/2026"),
    ],
)
def test_date_format_makes_iso_dates_and_leaves_what_does_not_parse(fmt, written, expected):
    assert one(compile_spec("hire_date", spec(date_format=fmt), bare="column"), {"hire_date": written}) == expected


def test_yaml_numbers_in_map_and_default_are_their_text():
    assert spec(map={1: 2}, default=0).map == {"1": "2"}
    with pytest.raises(ValidationError, match="YAML boolean: quote it"):
        spec(map={True: "active"})


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        ({"from": "a", "template": "{b}"}, "either from or template, not both"),
        ({"from": []}, "at least 1 item"),
        ({"tmpl": "{a}"}, "Extra inputs are not permitted"),
        ({"map": "A=B"}, "valid dictionary"),
        ({"case": "title"}, "'lower' or 'upper'"),
        ({"template": "{a!r}"}, "conversion !r is refused"),
        ({"date_format": "%Q-%m-%d"}, "unknown strftime code"),
        ({"date_format": "%H:%M"}, "must name the year, the month and the day"),
        ({"date_format": "%Y%"}, "unknown strftime code"),
        ({"date_format": "%d%d%m%Y"}, "does not read back"),
    ],
)
def test_a_bad_mapping_is_refused(keys, message):
    with pytest.raises(ValidationError, match=message):
        ValueSpec.model_validate(keys)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{first_name.upper}", "attribute access is refused"),
        ("{a[0]}", r"indexing \[ \] is refused"),
        ("{a!s}", "conversion !s is refused"),
        ("{a:>10}", "format spec '>10' is refused"),
        ("{a:.0}", "format spec '.0' is refused"),
        ("{a:{b}}", "format spec '{b}' is refused"),
        ("{}", r"must name a column \(\{\} is refused\)"),
        ("{a", "expected '}'"),
        ("a}", "Single '}'"),
    ],
)
def test_a_template_refuses_everything_but_names_and_cuts(text, message):
    with pytest.raises(ValueError, match=message):
        parse_template(text)
    with pytest.raises(ValueError, match=r"^field login: template "):
        compile_spec("login", text, bare="template")


def test_dotted_paths_are_placeholders_of_a_rest_record_only():
    compiled = compile_spec("first_name", "{name.first} {name.last}", bare="template", paths=True)
    assert compiled.columns == ("name.first", "name.last")
    assert one(compiled, {"name.first": "Jane", "name.last": "Doe"}) == "Jane Doe"
    assert compile_spec("email", "work.email", bare="column", paths=True).columns == ("work.email",)


def test_date_formats_the_spec_names_are_accepted():
    for fmt in ("%m/%d/%Y", "%d.%m.%Y", "%Y-%m-%dT%H:%M:%S%z", "%d %b %Y", "%Y%j"):
        assert check_date_format(fmt) == fmt


def test_column_wise_values_match_one_record_at_a_time():
    compiled = compile_spec("hire_date", spec(from_=["A", "B"], date_format="%m/%d/%Y"), bare="column")
    columns = {"A": [None, "03/02/2026", "x", " "], "B": ["12/31/2025", None, "01/01/2026", "02/02/2026"]}
    expected = ["2025-12-31", "2026-03-02", "x", "2026-02-02"]
    assert compiled.values(columns, 4) == expected
    assert [compiled.value(lambda c, i=i: columns[c][i]) for i in range(4)] == expected
    template = compile_spec("x", "{A}-{C}", bare="template")
    assert template.values(columns, 4) == [None] * 4  # C is no column: empty
    assert compile_spec("x", "constant", bare="template").values({}, 2) == ["constant", "constant"]


def test_spec_field_reports_a_bad_mappings_key_not_that_it_is_no_string():
    class Model(BaseModel):
        field: SpecField

    assert Model.model_validate({"field": "Worker ID"}).field == "Worker ID"
    assert Model.model_validate({"field": {"from": "A"}}).field == spec(from_="A")
    with pytest.raises(ValidationError) as caught:
        Model.model_validate({"field": {"form": "A"}})
    assert caught.value.error_count() == 1 and caught.value.errors()[0]["loc"] == ("field", "mapping", "form")


# -- properties ---------------------------------------------------------------------

values = st.one_of(st.none(), st.text())
specs = st.builds(
    dict,
    map=st.one_of(st.none(), st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=3)),
    default=st.one_of(st.none(), st.text(max_size=5)),
    date_format=st.sampled_from([None, "%m/%d/%Y", "%Y-%m-%dT%H:%M:%S%z", "%d.%m.%Y"]),
    case=st.sampled_from([None, "lower", "upper"]),
)


@given(keys=specs, a=values, b=values)
def test_the_grammar_never_raises_on_any_value(keys, a, b):
    mapping = spec(from_=["a", "b"], **{k: v for k, v in keys.items() if v is not None})
    compiled = compile_spec("x", mapping, bare="column")
    result = one(compiled, {"a": a, "b": b})
    assert result is None or (result.strip() == result and result) or result == mapping.default
    rendered = one(compile_spec("y", "<{a:.3}|{b}>", bare="template"), {"a": a, "b": b})
    assert rendered is None or rendered == f"<{a.strip()[:3]}|{b.strip()}>"  # type: ignore[union-attr]


@given(st.text())
def test_a_template_either_parses_to_names_and_cuts_or_is_refused(text):
    try:
        template = parse_template(text)
    except ValueError as exc:
        assert "\n" not in str(exc)  # one line, whatever the text
        return
    for _, name, _spec, _conversion in string.Formatter().parse(text):
        if name is not None:
            assert name in template.names and "." not in name and "[" not in name
    assert template.render(lambda name: "v") is not None


@given(
    name=st.text(alphabet=string.ascii_letters + "_ ", min_size=1).filter(str.strip),
    extra=st.sampled_from(["!r", "!s", ":>3", ":x", "[0]", ".attr", "[k]"]),
)
def test_a_template_refuses_conversions_specs_indexing_and_attributes(name, extra):
    with pytest.raises(ValueError):
        parse_template("{" + name + extra + "}")
