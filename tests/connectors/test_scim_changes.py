"""A SCIM delta read merged into what jml knew gives what a full read gives, or nothing
(read in full then): a property over random targets and random changes, without I/O
(`connectors.targets.scim.changes`); and the memo's clock."""

from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.targets.scim import ScimDriver, changes
from connectors.targets.scim import resources as scim
from jml.config import ScimTarget
from jml.model import Snapshot

DRIVER = ScimDriver(ScimTarget(name="app", type="scim", url="http://127.0.0.1:9/", token_env=None))
NAMES = ["all-staff", "engineering", "sales", "admins"]


@dataclass
class World:
    """A SCIM tenant as plain data: users (id -> values, externalId, active) and groups
    (id -> displayName, member ids)."""

    users: dict[str, dict] = field(default_factory=dict)
    groups: dict[str, tuple[str, set[str]]] = field(default_factory=dict)

    def resources(self) -> tuple[list[dict], list[dict]]:
        users = [{**scim.user_resource(u["values"], external_id=u["eid"], active=u["active"]), "id": uid}
                 for uid, u in self.users.items()]  # fmt: skip
        for user in users:
            if user["externalId"] is None:
                del user["externalId"]
        groups = [{"id": gid, "displayName": name, "members": [{"value": m} for m in sorted(members)]}
                  for gid, (name, members) in self.groups.items()]  # fmt: skip
        return users, groups

    def read(self) -> Snapshot:
        """What a full read of the world gives, with its memo."""
        users, groups = self.resources()
        reading = DRIVER._reading(users, groups, {u["id"]: u.get("externalId") for u in users})
        reading.snapshot.memo = changes.memo("2026-12-03T10:00:00Z", {g["id"]: g["displayName"] for g in groups})
        return reading.snapshot


def copy(world: World) -> World:
    return World({uid: {**u, "values": dict(u["values"])} for uid, u in world.users.items()},
                 {gid: (name, set(members)) for gid, (name, members) in world.groups.items()})  # fmt: skip


@st.composite
def worlds(draw) -> World:
    world = World()
    for i in range(draw(st.integers(0, 8))):
        manager = draw(st.sampled_from([None, *world.users]))
        world.users[f"u{i}"] = {
            "eid": draw(st.sampled_from([f"E{i}", None])),
            "active": draw(st.booleans()),
            "values": {"user_name": f"user{i}", "title": draw(st.sampled_from(["a", "b"])), "manager": manager},
        }
    for j, name in enumerate(draw(st.lists(st.sampled_from(NAMES), unique=True, max_size=3))):
        world.groups[f"g{j}"] = (name, set(draw(st.lists(st.sampled_from(sorted(world.users) or ["none"])))))
    return world


@st.composite
def changed(draw, before: World) -> tuple[World, set[str], set[str]]:
    """`before` changed at random, and the ids of the users and groups a delta lists
    (those written since the read)."""
    after = copy(before)
    users: set[str] = set()
    groups: set[str] = set()
    for uid in draw(st.lists(st.sampled_from(sorted(after.users) or ["none"]), unique=True)):
        if uid not in after.users:
            continue
        kind = draw(st.sampled_from(["title", "active", "manager", "external_id", "delete"]))
        user = after.users[uid]
        if kind == "delete":
            del after.users[uid]
            for gid, (_name, members) in after.groups.items():
                if uid in members:
                    members.discard(uid)
                    groups.add(gid)
            continue
        if kind == "title":
            user["values"]["title"] += "x"
        elif kind == "active":
            user["active"] = not user["active"]
        elif kind == "manager":
            user["values"]["manager"] = draw(st.sampled_from([None, *after.users]))
        else:
            user["eid"] = None if user["eid"] else f"X{uid}"
        users.add(uid)
    for i in range(draw(st.integers(0, 2))):
        uid = f"new{i}"
        after.users[uid] = {"eid": f"N{i}", "active": True, "values": {"user_name": uid, "title": "a", "manager": None}}
        users.add(uid)
    for gid in draw(st.lists(st.sampled_from(sorted(after.groups) or ["none"]), unique=True)):
        if gid not in after.groups:
            continue
        name, members = after.groups[gid]
        kind = draw(st.sampled_from(["add", "remove", "rename", "delete"]))
        if kind == "delete":
            del after.groups[gid]
            continue
        if kind == "rename":
            after.groups[gid] = (draw(st.sampled_from(NAMES)), members)
        elif kind == "add" and after.users:
            members.add(draw(st.sampled_from(sorted(after.users))))
        elif members:
            members.discard(draw(st.sampled_from(sorted(members))))
        groups.add(gid)
    if draw(st.booleans()):
        after.groups["gnew"] = (draw(st.sampled_from(NAMES)), set(list(after.users)[:2]))
        groups.add("gnew")
    return after, users, groups


def merged(known: Snapshot, after: World, users: set[str], groups: set[str]):
    listed_users, listed_groups = after.resources()
    delta_users = [u for u in listed_users if u["id"] in users]
    delta_groups = [g for g in listed_groups if g["id"] in groups]
    external_of = {a.id: a.external_id for a in known.accounts}
    external_of.update({u["id"]: u.get("externalId") for u in delta_users})
    totals = (len(listed_users), len(listed_groups))
    return changes.merge(known, delta_users, delta_groups, totals,
                         lambda user, held: scim.account_from_user(user, external_of, held))  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_a_delta_merged_into_what_was_known_is_what_a_full_read_gives_or_nothing(data):
    before = data.draw(worlds())
    after, users, groups = data.draw(changed(before))
    known = before.read()
    result = merged(known, after, users, groups)
    full = after.read()
    if result is None:
        names = [name for name, _ in after.groups.values()]
        # only what a delta cannot merge exactly: a deletion, a new or lost externalId,
        # a renamed group, two groups of one name
        assert (
            before.users.keys() - after.users.keys()
            or before.groups.keys() - after.groups.keys()
            or any(before.users[u]["eid"] != after.users[u]["eid"] for u in before.users.keys() & after.users.keys())
            or any(before.groups[g][0] != after.groups[g][0] for g in before.groups.keys() & after.groups.keys())
            or len(names) != len(set(names))
        )
        return
    accounts, names = result
    assert {a.id: a for a in accounts} == {a.id: a for a in full.accounts}
    assert names == full.memo["groups"]
    assert set(names.values()) == full.groups


def test_the_next_delta_starts_at_the_servers_clock_less_the_overlap():
    assert changes.since_of("Thu, 03 Dec 2026 15:39:00 GMT") == "2026-12-03T15:38:00Z"
    assert changes.since_of(None) is None
    assert changes.since_of("Thu, 03 Dec 2026 15:39:00 GMT, Thu, 03 Dec 2026 15:39:01 GMT") is None  # two: unsure
    assert changes.memo(None, {"g": "x"}) == {}  # no clock: the next read is a full one
    assert changes.modified_since('2026"') == 'meta.lastModified gt "2026\\""'
