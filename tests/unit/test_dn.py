"""DNs as jml writes and reads them (`jml.dn`): any values, escaped and joined, split
back to themselves, on the plain fast path (nothing escaped) and the escaped one alike."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from jml.dn import dn_key, escape_dn_value, render_dn, split_dn

KINDS = st.sampled_from(["uid", "cn", "ou", "dc", "OU", "CN"])
VALUES = st.one_of(st.text(alphabet="abcXYZ 019-_.", min_size=1, max_size=12),
                   st.text(min_size=1, max_size=12).filter(lambda v: v.strip() == v and v))  # fmt: skip


@given(st.lists(st.tuples(KINDS, VALUES), min_size=1, max_size=5))
def test_a_written_dn_splits_back_to_its_values(pairs) -> None:
    dn = ",".join(f"{kind}={escape_dn_value(value)}" for kind, value in pairs)
    assert split_dn(dn) == [(kind.lower(), value) for kind, value in pairs]
    assert render_dn(dn) == dn
    assert dn_key(dn) == dn_key(dn.upper() if dn.isascii() and "\\" not in dn else dn)


def test_the_legacy_semicolon_separates_too() -> None:
    assert split_dn("uid=a;ou=people") == split_dn("uid=a,ou=people") == [("uid", "a"), ("ou", "people")]
    assert split_dn("cn=a\\;b,ou=x") == [("cn", "a;b"), ("ou", "x")]
