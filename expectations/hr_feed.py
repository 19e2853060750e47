"""The Great Expectations suite for an HR feed: one expectation per rule of the SPEC.

Every expectation carries a short, stable rule name in `meta["rule"]`; quarantine
reports the names of the rules a row broke, so they are part of the contract (an
operator searches exceptions by them). `RULES` lists them in the order they are
reported.

The suite expects the frame the runner prepares (`expectations.runner`): cells are
text, stripped, with empty and whitespace-only cells as None, indexed by `_row` (the
feed line each row starts on), which names the failing rows in the results. GX's value
expectations (regex, in-set) skip nulls, so each required column also has a not-null
expectation. The regexes end in `\\Z`, not `$`, which would also match before a final
newline.

Rules on optional columns (termination_date, contract_end_date) are in the suite only
when the feed has the column, so `build_suite` takes the feed's columns. With
`email_required=False` (the config's `naming.email` generates the missing ones) a row
may lack an email; one it has must still pass `email_valid`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import great_expectations as gx
from great_expectations import expectations as gxe

from jml.model import EMPLOYMENT_TYPES, REQUIRED_COLUMNS, STATUSES
from jml.text import FORMULA_START

#: The index naming each row in the results (the feed line the row starts on).
ROW_COLUMN = "_row"

EMPLOYEE_ID_REGEX = r"^[A-Za-z0-9_-]{1,64}\Z"
#: YYYY-MM-DD with ASCII digits only (`\d` would also match other scripts' digits).
DATE_REGEX = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}\Z"
#: A real calendar date in YYYY-MM-DD (years 0001-9999, Gregorian leap years), as a
#: regex: GX's strftime expectation calls strptime per value and costs ~1 s per 100,000
#: rows, a regex ~0.05 s. The tests check it against `datetime.date` exhaustively.
REAL_DATE_REGEX = (
    r"^(?!0000)(?:"
    r"[0-9]{4}-(?:"
    r"(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])"
    r"|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)"
    r"|02-(?:0[1-9]|1[0-9]|2[0-8]))"
    r"|(?:[0-9]{2}(?:0[48]|[2468][048]|[13579][26])|(?:[02468][048]|[13579][26])00)-02-29"
    r")\Z"
)
#: A sane address: an RFC 5322 dot-atom local part (no leading, trailing or double
#: dot) of at most 64 characters, and a domain of LDH labels with at least one dot.
#: ASCII only; 254 characters at most in all.
EMAIL_REGEX = (
    r"^(?=.{3,254}\Z)"
    r"(?=[^@]{1,64}@)"
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@"
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+"
    r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\Z"
)

#: A cell a spreadsheet would run as a formula (OWASP "CSV injection": the first
#: characters of `jml.text.FORMULA_START`; tabs and carriage returns are stripped before
#: the rules run, so only =, +, -, @ are left). Such a value never reaches a target:
#: the row is quarantined.
FORMULA_REGEX = "^[" + "".join(re.escape(ch) for ch in FORMULA_START if ch not in "\t\r") + "]"
#: The free-text columns that reach targets and are checked for formulas.
TEXT_COLUMNS = ("first_name", "last_name", "email", "department", "job_code")

#: The longest a field may be, in characters (SPEC "Fail closed"): a longer one
#: quarantines its row, with the rule `<column>_too_long`.
MAX_FIELD = 4096
TOO_LONG = "_too_long"

#: Rule names, in the order a quarantine exception lists them.
RULES = (
    "required_columns",
    "employee_id_present",
    "employee_id_format",
    "employee_id_unique",
    "first_name_present",
    "last_name_present",
    "email_present",
    "email_valid",
    "department_present",
    "job_code_present",
    "employment_type_present",
    "employment_type_valid",
    "status_present",
    "status_valid",
    "hire_date_present",
    "hire_date_format",
    "hire_date_real",
    "termination_date_format",
    "termination_date_real",
    "termination_not_before_hire",
    "contract_end_date_format",
    "contract_end_date_real",
    *(f"{column}_no_formula" for column in TEXT_COLUMNS),
)
#: After RULES in a quarantine's list: `<column>_too_long`, by column.

_DATE_RULES = frozenset(
    {
        "hire_date_present",
        "hire_date_format",
        "hire_date_real",
        "termination_date_format",
        "termination_date_real",
    }
)

#: A rule that says nothing more when one of these rules fails on the same row; the
#: runner does not report it then (the row is quarantined by the other rule anyway).
MASKED_BY: dict[str, frozenset[str]] = {
    "hire_date_real": frozenset({"hire_date_format"}),
    "termination_date_real": frozenset({"termination_date_format"}),
    "contract_end_date_real": frozenset({"contract_end_date_format"}),
    "termination_not_before_hire": _DATE_RULES,
}


def _rule(name: str) -> dict:
    assert name in RULES or name.endswith(TOO_LONG), name
    return {"rule": name}


def _date_rules(column: str, required: bool) -> list[Any]:
    rules: list[Any] = []
    if required:
        rules.append(
            gxe.ExpectColumnValuesToNotBeNull(column=column, meta=_rule(f"{column}_present"))
        )
    rules += [
        gxe.ExpectColumnValuesToMatchRegex(
            column=column, regex=DATE_REGEX, meta=_rule(f"{column}_format")
        ),
        gxe.ExpectColumnValuesToMatchRegex(
            column=column, regex=REAL_DATE_REGEX, meta=_rule(f"{column}_real")
        ),
    ]
    return rules


def expectations_for(columns: Iterable[str], *, email_required: bool = True) -> list[Any]:
    """The expectations for a feed with these columns, in RULES order."""
    present = set(columns)
    rules: list[Any] = [
        gxe.ExpectTableColumnsToMatchSet(
            column_set=list(REQUIRED_COLUMNS), exact_match=False, meta=_rule("required_columns")
        ),
        gxe.ExpectColumnValuesToNotBeNull(column="employee_id", meta=_rule("employee_id_present")),
        gxe.ExpectColumnValuesToMatchRegex(
            column="employee_id", regex=EMPLOYEE_ID_REGEX, meta=_rule("employee_id_format")
        ),
        gxe.ExpectColumnValuesToBeUnique(column="employee_id", meta=_rule("employee_id_unique")),
        gxe.ExpectColumnValuesToNotBeNull(column="first_name", meta=_rule("first_name_present")),
        gxe.ExpectColumnValuesToNotBeNull(column="last_name", meta=_rule("last_name_present")),
        *([gxe.ExpectColumnValuesToNotBeNull(column="email", meta=_rule("email_present"))] if email_required else []),
        gxe.ExpectColumnValuesToMatchRegex(
            column="email", regex=EMAIL_REGEX, meta=_rule("email_valid")
        ),
        gxe.ExpectColumnValuesToNotBeNull(column="department", meta=_rule("department_present")),
        gxe.ExpectColumnValuesToNotBeNull(column="job_code", meta=_rule("job_code_present")),
        gxe.ExpectColumnValuesToNotBeNull(
            column="employment_type", meta=_rule("employment_type_present")
        ),
        gxe.ExpectColumnValuesToBeInSet(
            column="employment_type",
            value_set=list(EMPLOYMENT_TYPES),
            meta=_rule("employment_type_valid"),
        ),
        gxe.ExpectColumnValuesToNotBeNull(column="status", meta=_rule("status_present")),
        gxe.ExpectColumnValuesToBeInSet(
            column="status", value_set=list(STATUSES), meta=_rule("status_valid")
        ),
        *_date_rules("hire_date", required=True),
    ]
    if "termination_date" in present:
        rules += _date_rules("termination_date", required=False)
        # YYYY-MM-DD strings order like the dates they name. On a row whose dates are
        # malformed the comparison means nothing: see MASKED_BY.
        rules.append(
            gxe.ExpectColumnPairValuesAToBeGreaterThanB(
                column_A="termination_date",
                column_B="hire_date",
                or_equal=True,
                ignore_row_if="either_value_is_missing",
                meta=_rule("termination_not_before_hire"),
            )
        )
    if "contract_end_date" in present:
        rules += _date_rules("contract_end_date", required=False)
    rules += [
        gxe.ExpectColumnValuesToNotMatchRegex(
            column=column, regex=FORMULA_REGEX, meta=_rule(f"{column}_no_formula")
        )
        for column in TEXT_COLUMNS
    ]
    rules += [
        gxe.ExpectColumnValueLengthsToBeBetween(column=column, max_value=MAX_FIELD, meta=_rule(f"{column}{TOO_LONG}"))
        for column in sorted(present)
    ]
    return rules


def build_suite(columns: Iterable[str], *, name: str = "hr_feed", email_required: bool = True) -> gx.ExpectationSuite:
    """The ExpectationSuite for a feed with these columns (optional-column rules only
    for the columns it has)."""
    suite = gx.ExpectationSuite(name=name)
    for expectation in expectations_for(columns, email_required=email_required):
        suite.add_expectation(expectation)
    return suite


#: How a rule on one column is named: the column, then one of these.
_RULE_SUFFIXES = ("_present", "_format", "_real", "_valid", "_unique", "_no_formula", TOO_LONG)


def columns_of(rule: str) -> tuple[str, ...]:
    """The feed columns a rule reads (none for `required_columns`)."""
    if rule == "termination_not_before_hire":
        return ("termination_date", "hire_date")
    suffix = next((suffix for suffix in _RULE_SUFFIXES if rule.endswith(suffix)), None)
    return (rule.removesuffix(suffix),) if suffix is not None else ()


def rule_of(expectation_config) -> str:
    """The rule name an expectation (or its configuration in a result) carries."""
    return (expectation_config.meta or {})["rule"]
