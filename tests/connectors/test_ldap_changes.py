"""The LDAP delta's pure parts (`connectors.targets.ldap.changes`), without a server:
where the next delta starts, and the merges it refuses (None: read in full)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from connectors.targets.ldap import changes
from connectors.targets.ldap.entries import Tree, account_of
from jml.model import Account, Snapshot

TREE = Tree("ou=people,dc=x", "ou=disabled,dc=x", "ou=groups,dc=x")


def entry(uid: str, uuid: str, base: str = TREE.people) -> tuple[str, dict[str, list[str]]]:
    return f"uid={uid},{base}", {"uid": [uid], "entryUUID": [uuid], "cn": [uid], "sn": [uid]}


def census(*entries, groups=()) -> changes.Census:
    found = changes.Census.of([(True, list(entries))], [(dn, {}) for dn in groups])
    assert found is not None
    return found


def make(dn, values, active, held) -> Account:
    return account_of(dn, values, active, {}, held, frozenset())


def test_the_next_delta_starts_at_the_earlier_of_jml_s_clock_and_the_newest_stamp(monkeypatch) -> None:
    monkeypatch.setattr(changes.kernel_driver, "OVERLAP", changes.kernel_driver.OVERLAP * 0)
    now = datetime(2026, 12, 3, 12, 0, 0, tzinfo=UTC)
    empty = census()
    assert changes.memo(now, "20261203115000Z", empty)["since"] == "20261203115000Z"  # jml's clock ahead
    assert changes.memo(now, "20261203121000Z", empty)["since"] == "20261203120000Z"  # the server's ahead
    assert changes.memo(now, None, empty)["since"] == "20261203120000Z"
    assert changes.newest([entry("a", "1")], "junk") is None  # no stamp, an unreadable one: none seen


def test_an_entry_without_entryuuid_makes_no_census() -> None:
    dn, values = entry("a", "1")
    assert changes.Census.of([(True, [(dn, {"uid": ["a"]})])], []) is None


def test_merges_it_refuses() -> None:
    a, b = entry("a", "1"), entry("b", "2")
    known = Snapshot("dir", [make(*a, True, set()), make(*b, True, set())], groups=set())
    now = census(a, b, groups=[f"cn=new,{TREE.groups}"])
    assert changes.merge(known, now, [], [], [], make) is None  # a group appeared, not among the changed
    assert changes.merge(known, now, [], [], [(f"cn=new,{TREE.groups}", {"member": [a[0]]})], make) is not None
    assert changes.merge(known, census(a, b), ["2"], [(True, a)], [], make) is None  # "2" had to be read again
    moved = (f"uid=a,{TREE.disabled}", a[1])
    assert changes.merge(known, census(a, b), [], [(False, moved)], [], make) is None  # moved between the searches
    twice = census(a, b, groups=[f"cn=g,{TREE.groups}", f"cn=g+ou=x,{TREE.groups}"])
    assert changes.merge(replace(known, groups={"g"}), twice, [], [], [], make) is None  # two groups named g
