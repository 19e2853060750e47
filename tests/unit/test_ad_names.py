"""The AD target's pure parts: FILETIME of a last day of access, userAccountControl's
one bit, passwords, sAMAccountName numbering and cn choice (connectors.targets.ad)."""

from __future__ import annotations

from datetime import UTC, datetime

from connectors.targets.ad.names import common_names, first_free
from connectors.targets.ad.schema import NEVER, expires_of, filetime_of, new_password, uac_with


def test_account_expires_round_trips_the_last_day() -> None:
    ticks = filetime_of("2026-03-31")
    assert ticks == int((datetime(2026, 4, 1, tzinfo=UTC) - datetime(1601, 1, 1, tzinfo=UTC)).total_seconds()) * 10**7
    assert expires_of(str(ticks)) == "2026-03-31"
    assert filetime_of(None) == NEVER and filetime_of(" ") == NEVER
    assert [expires_of(v) for v in ("0", str(NEVER), None, "junk")] == [None, None, None, None]
    assert expires_of(str(ticks + 36_000_000_000)) == "2026-04-01"  # 01:00 on the 1st: access that day


def test_only_accountdisable_changes() -> None:
    assert uac_with(0x10202, True) == 0x10200
    assert uac_with(0x10200, False) == 0x10202
    assert uac_with(0x10202, False) == 0x10202


def test_passwords_are_long_and_of_four_classes() -> None:
    made = {new_password() for _ in range(50)}
    assert len(made) == 50
    for password in made:
        assert len(password) >= 24
        assert any(c.isupper() for c in password) and any(c.islower() for c in password)
        assert any(c.isdigit() for c in password) and any(not c.isalnum() for c in password)


def test_a_sam_account_name_is_numbered_past_every_holder_within_max_length() -> None:
    asked: list[str] = []
    holders = {"jdoe", "jdoe2", "mvanderberghoppenhe", "mvanderberghoppenheimer"[:20]}

    def held(prefix: str) -> set[str]:
        asked.append(prefix)
        return {name for name in holders if name.startswith(prefix)}

    assert first_free("jdoe", 20, held) == "jdoe3"
    assert first_free("mvanderberghoppenheimer", 20, held) == "mvanderberghoppenhe2"
    assert all(len(name) <= 20 for name in asked)
    assert len(asked) == 2  # one search each
    assert first_free("a.", 20, lambda prefix: set()) == "a"  # no trailing dot


def test_the_cn_and_its_suffixed_form_fit_64() -> None:
    assert common_names("Jane Doe", "E123") == ("Jane Doe", "Jane Doe (E123)")
    assert common_names(None, "E9") == ("E9", "E9 (E9)")
    long = common_names("X" * 80, "E123")
    assert len(long[0]) == 64 and len(long[1]) == 64 and long[1].endswith(" (E123)")
