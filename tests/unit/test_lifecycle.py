from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jml.config import LifecycleConfig
from jml.lifecycle import assess
from jml.model import Lifecycle
from tests.unit.factories import record

D = date(2026, 3, 10)
CFG = LifecycleConfig(prehire_days=7, delete_after_days=30)


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({}, Lifecycle.ACTIVE),
        ({"status": "leave"}, Lifecycle.SUSPENDED),
        ({"status": "terminated"}, Lifecycle.TERMINATED),
        ({"termination_date": D}, Lifecycle.ACTIVE),  # the last day still has access
        ({"termination_date": D - timedelta(days=1)}, Lifecycle.TERMINATED),
        ({"termination_date": D - timedelta(days=30)}, Lifecycle.TERMINATED),
        ({"termination_date": D - timedelta(days=31)}, Lifecycle.DELETE),
        ({"hire_date": D + timedelta(days=7)}, Lifecycle.PREHIRE),
        ({"hire_date": D + timedelta(days=8)}, Lifecycle.NOT_YET),
        ({"hire_date": D}, Lifecycle.ACTIVE),
        ({"employment_type": "contractor", "contract_end_date": D - timedelta(days=1)}, Lifecycle.TERMINATED),
        ({"employment_type": "contractor", "contract_end_date": D}, Lifecycle.ACTIVE),
        ({"employment_type": "employee", "contract_end_date": D - timedelta(days=1)}, Lifecycle.ACTIVE),
        ({"status": "leave", "termination_date": D - timedelta(days=1)}, Lifecycle.TERMINATED),
    ],
)
def test_states(fields, expected):
    assert assess(record(**fields), D, CFG)[0] is expected


def test_terminated_without_date_counts_grace_from_first_seen():
    terminated = record(status="terminated")
    state, day = assess(terminated, D, CFG)
    assert (state, day) == (Lifecycle.TERMINATED, D)
    assert assess(terminated, D + timedelta(days=31), CFG, terminated_on=D)[0] is Lifecycle.DELETE
    assert assess(terminated, D + timedelta(days=30), CFG, terminated_on=D)[0] is Lifecycle.TERMINATED


def test_delete_after_days_null_never_deletes():
    never = LifecycleConfig(delete_after_days=None)
    assert assess(record(termination_date=date(2000, 1, 1)), D, never)[0] is Lifecycle.TERMINATED


@given(
    offset=st.integers(-400, 400),
    status=st.sampled_from(["active", "leave", "terminated"]),
    end=st.one_of(st.none(), st.integers(-400, 400)),
)
def test_terminated_date_is_returned_only_for_terminated(offset, status, end):
    rec = record(status=status, hire_date=D + timedelta(days=offset),
                 termination_date=None if end is None else D + timedelta(days=end))
    state, day = assess(rec, D, CFG)
    assert (day is not None) == (state in (Lifecycle.TERMINATED, Lifecycle.DELETE))
