"""The LDAP driver on the kernel against a real OpenLDAP slapd (one per session, a fresh
subtree per test), checked by reading the directory itself: DNs and escaping,
objectClasses, group entries, memberships and manager links that follow a moved entry,
the last member of a groupOfNames, adoption of an unlinked entry, clear errors, and
whether a failure may have been applied (a lost reply to a create is settled, never a
second entry)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import ldap3
import pytest

from app import launchers
from connectors.base import ConfigurationError, Permanent, Retryable
from connectors.kernel import Kernel
from connectors.targets.ldap import LdapDriver
from connectors.targets.ldap.wire import Wire
from jml.config import LdapTarget
from jml.dn import dn_key, rdn_value
from jml.operations import Action
from tests.connectors.apps import ldap_target
from tests.connectors.test_contract import accounts, apply, attributes, create, grant, ok, op, revoke, update

ENV = "JML_TEST_LDAP_PASSWORD"


def config(slapd: launchers.SlapdServer, tree: launchers.LdapTree, **options) -> LdapTarget:
    """The test subtree's target, one try per operation (the driver's own answers)."""
    return LdapTarget.model_validate(ldap_target("dir", slapd, tree, ENV, retry={"attempts": 1}, **options))


def connect(target: LdapTarget, password: str) -> Kernel:
    """The LDAP driver on the kernel."""
    return Kernel(LdapDriver(target, environ={ENV: password}), target.retry)


@pytest.fixture
def directory(slapd: launchers.SlapdServer, ldap_tree: launchers.LdapTree) -> Iterator[Kernel]:
    with connect(config(slapd, ldap_tree), slapd.password) as target:
        yield target


@pytest.fixture
def raw(slapd: launchers.SlapdServer) -> Iterator[ldap3.Connection]:
    connection = slapd.connection()
    try:
        yield connection
    finally:
        connection.unbind()


def entries(raw: ldap3.Connection, base: str, attributes: list[str] | None = None) -> dict[str, dict]:
    """dn -> attributes of the entries one level under `base`, as the server has them."""
    raw.search(base, "(objectClass=*)", search_scope=ldap3.LEVEL, attributes=attributes or ["*"])
    return {item["dn"]: item["attributes"] for item in raw.response if item["type"] == "searchResEntry"}


def test_entries_as_the_issue_maps_them(directory, raw, ldap_tree) -> None:
    ok(apply(directory, [create("M1"), create("R1", manager="M1"), grant("R1", "staff")]))
    people = entries(raw, ldap_tree.people_dn)
    dn = f"uid=R1,{ldap_tree.people_dn}"
    assert set(people) == {f"uid=M1,{ldap_tree.people_dn}", dn}
    entry = people[dn]
    assert {"inetOrgPerson", "organizationalPerson", "person"} <= set(entry["objectClass"])
    assert entry["cn"] == ["Given R1 Family"]
    assert (entry["givenName"], entry["sn"], entry["mail"]) == (["Given R1"], ["Family"], ["r1@example.com"])
    assert (entry["employeeNumber"], entry["departmentNumber"], entry["title"]) == (["R1"], ["Engineering"], ["ENG"])
    assert dn_key(entry["manager"][0]) == dn_key(f"uid=M1,{ldap_tree.people_dn}")
    groups = entries(raw, ldap_tree.groups_dn)
    assert list(groups) == [f"cn=staff,{ldap_tree.groups_dn}"]
    assert "groupOfNames" in groups[f"cn=staff,{ldap_tree.groups_dn}"]["objectClass"]
    assert groups[f"cn=staff,{ldap_tree.groups_dn}"]["member"] == [dn]


def test_dn_and_filter_values_are_escaped(directory, raw, slapd, ldap_tree) -> None:
    tricky = ["O'Brien, Jr.", "A+B=C", "*)(uid=*", " lead#"]
    ok(apply(directory, [create(eid, user_name=f"u{n}@x.org", email=f"u{n}@x.org") for n, eid in enumerate(tricky)]))
    ok(apply(directory, [grant("A+B=C", "R&D, Ops+Sec"), grant("*)(uid=*", "R&D, Ops+Sec")]))
    uids = sorted(rdn_value(dn)[1] for dn in entries(raw, ldap_tree.people_dn))
    assert uids == sorted(tricky)  # one entry each, named by the exact employee_id
    groups = entries(raw, ldap_tree.groups_dn)
    assert [rdn_value(dn)[1] for dn in groups] == ["R&D, Ops+Sec"]
    # a fresh connector finds each by a filter: `*)(uid=*` must match itself only
    with connect(config(slapd, ldap_tree), slapd.password) as fresh:
        ok(apply(fresh, [op("*)(uid=*", Action.DISABLE)]))
    assert [rdn_value(dn)[1] for dn in entries(raw, ldap_tree.disabled_dn)] == ["*)(uid=*"]
    found = accounts(directory.read())
    assert found["A+B=C"].entitlements == found["*)(uid=*"].entitlements == {"R&D, Ops+Sec"}


def test_memberships_and_manager_links_follow_a_moved_entry(directory, raw, ldap_tree) -> None:
    ok(apply(directory, [create("M1"), create("R1", manager="M1"), grant("M1", "staff"), grant("R1", "staff")]))
    ok(apply(directory, [op("M1", Action.DISABLE)]))
    moved = f"uid=M1,{ldap_tree.disabled_dn}"
    assert list(entries(raw, ldap_tree.disabled_dn)) == [moved]
    members = entries(raw, ldap_tree.groups_dn)[f"cn=staff,{ldap_tree.groups_dn}"]["member"]
    assert {dn_key(m) for m in members} == {dn_key(moved), dn_key(f"uid=R1,{ldap_tree.people_dn}")}
    report = entries(raw, ldap_tree.people_dn)[f"uid=R1,{ldap_tree.people_dn}"]
    assert dn_key(report["manager"][0]) == dn_key(moved)


def test_the_last_member_leaves_a_placeholder_and_a_delete_leaves_no_trace(directory, raw, ldap_tree) -> None:
    ok(apply(directory, [create("A1"), create("R1", manager="A1"), grant("A1", "solo")]))
    ok(apply(directory, [revoke("A1", "solo")]))
    group = f"cn=solo,{ldap_tree.groups_dn}"
    assert entries(raw, ldap_tree.groups_dn)[group]["member"] == [group]  # groupOfNames needs one
    assert accounts(directory.read())["A1"].entitlements == set()
    ok(apply(directory, [grant("A1", "solo"), grant("R1", "solo"), op("A1", Action.DELETE)]))
    assert {dn_key(m) for m in entries(raw, ldap_tree.groups_dn)[group]["member"]} == {
        dn_key(group), dn_key(f"uid=R1,{ldap_tree.people_dn}")
    }
    report = entries(raw, ldap_tree.people_dn)[f"uid=R1,{ldap_tree.people_dn}"]
    assert "manager" not in report or report["manager"] in (None, [], "")


def test_an_unlinked_entry_is_adopted_and_renamed(directory, raw, ldap_tree) -> None:
    dn = f"cn=Jane Doe,{ldap_tree.people_dn}"
    assert raw.add(dn, ["inetOrgPerson"], {"cn": "Jane Doe", "sn": "Doe", "mail": "jane@x.org"}), raw.result
    snapshot = directory.read()
    (account,) = snapshot.accounts
    assert (account.external_id, account.user_name, account.active) == (None, "jane@x.org", True)
    changes = {"external_id": [None, "E9"], "given_name": [None, "Jane"]}
    ok(apply(directory, [op("E9", Action.UPDATE, {"changes": changes}, account_id=account.id)]))
    (adopted,) = directory.read().accounts
    assert (adopted.external_id, adopted.id, adopted.attributes["given_name"]) == ("E9", account.id, "Jane")
    assert list(entries(raw, ldap_tree.people_dn)) == [f"uid=E9,{ldap_tree.people_dn}"]


def test_a_report_created_before_its_manager_exists_gets_no_dangling_link(directory, caplog) -> None:
    ok(apply(directory, [create("R1", manager="NOBODY")]))
    assert accounts(directory.read())["R1"].attributes["manager"] is None
    assert "manager NOBODY of R1 has no account" in caplog.text  # the kernel's warning


def test_a_user_name_change_alone_is_written_to_mail(directory) -> None:
    ok(apply(directory, [create("A1")]))
    ok(apply(directory, [update("A1", user_name="new@example.com")]))
    found = accounts(directory.read())["A1"]
    assert found.attributes["email"] == found.attributes["user_name"] == "new@example.com"
    assert found.attributes == attributes("A1", user_name="new@example.com", email="new@example.com")


def test_clear_errors(slapd, ldap_tree) -> None:
    with pytest.raises(ConfigurationError, match=f"target dir: environment variable {ENV} is not set"):
        LdapDriver(config(slapd, ldap_tree), environ={})
    with pytest.raises(ConfigurationError, match="target dir: people_dn is not a DN"):
        LdapDriver(LdapTarget.model_validate({**ldap_target("dir", slapd, ldap_tree, ENV), "people_dn": "not a dn"}), environ={ENV: "x"})
    with connect(config(slapd, ldap_tree), "wrong") as wrong:
        with pytest.raises(Permanent, match="bind: LDAP 49 invalidCredentials"):
            wrong.read()
        outcomes = apply(wrong, [create("A1")])
        assert isinstance(outcomes[0].error, Permanent)
    missing = {**ldap_target("dir", slapd, ldap_tree, ENV), "disabled_dn": f"ou=nowhere,{slapd.suffix}"}
    with connect(LdapTarget.model_validate(missing), slapd.password) as target:
        with pytest.raises(Permanent, match=f"dir: ou=nowhere,{slapd.suffix} does not exist in the directory"):
            target.read()


def test_the_password_never_shows(slapd, ldap_tree, caplog) -> None:
    with connect(config(slapd, ldap_tree), slapd.password) as target:
        ok(apply(target, [create("A1"), grant("A1", "g")]))
        target.read()
        assert slapd.password not in repr(target)
    assert slapd.password not in caplog.text


def test_a_server_that_goes_away_is_retryable_and_comes_back(slapd, ldap_tree) -> None:
    """The relay cuts every connection and refuses new ones (the server is gone): each
    call fails Retryable; once it relays again the same kernel instance reconnects."""
    with reply_dropping_relay(slapd) as relay:
        relayed = launchers.SlapdServer(relay.host, relay.port, slapd.bind_dn, slapd.password, slapd.suffix)
        with connect(config(relayed, ldap_tree), slapd.password) as target:
            ok(apply(target, [create("A1")]))
            relay.away.set()
            relay.cut()
            with pytest.raises(Retryable):
                target.read()
            assert isinstance(apply(target, [op("A1", Action.DISABLE)])[0].error, Retryable)
            relay.away.clear()
            ok(apply(target, [op("A1", Action.DISABLE)]))
            assert accounts(target.read())["A1"].active is False


def test_paged_read_of_more_entries_than_a_page(slapd, ldap_tree) -> None:
    with connect(config(slapd, ldap_tree, page_size=7), slapd.password) as target:
        people = [f"P{n:02d}" for n in range(30)]
        ok(apply(target, [create(eid) for eid in people] + [grant(eid, "all") for eid in people]))
        snapshot = target.read()
    assert sorted(a.external_id for a in snapshot.accounts) == people
    assert all(a.entitlements == {"all"} for a in snapshot.accounts)


@pytest.mark.parametrize(("code", "maybe_applied"), [(51, False), (52, False), (3, True), (80, True)])
def test_retryable_results_say_whether_the_server_acted(slapd, ldap_tree, code: int, maybe_applied: bool) -> None:
    error = Wire(config(slapd, ldap_tree), "x").error("add A1", {"result": code, "description": "d"})
    assert isinstance(error, Retryable) and error.status == code
    assert error.maybe_applied is maybe_applied


def test_a_bind_that_cannot_connect_was_not_applied(ldap_tree, dead_port: int) -> None:
    suffix = "dc=example,dc=org"
    nowhere = launchers.SlapdServer("127.0.0.1", dead_port, f"cn=admin,{suffix}", "pw", suffix)
    with connect(config(nowhere, ldap_tree), "pw") as dead:
        (outcome,) = apply(dead, [create("A1")])
    assert isinstance(outcome.error, Retryable) and outcome.error.maybe_applied is False


def test_a_create_whose_reply_was_lost_is_settled_not_added_twice(slapd, ldap_tree, raw) -> None:
    with reply_dropping_relay(slapd) as relay:
        relayed = launchers.SlapdServer(relay.host, relay.port, slapd.bind_dn, slapd.password, slapd.suffix)
        retry = {"attempts": 2, "backoff_seconds": 0}
        target = LdapTarget.model_validate(ldap_target("dir", relayed, ldap_tree, ENV, retry=retry))
        with connect(target, slapd.password) as directory:
            assert directory.read().accounts == []  # bound: the next request is the add
            relay.drop_next_reply.set()
            applied = directory.apply([create("A1")])
            found = accounts(directory.read())
    ok(applied.outcomes)
    assert (applied.settled, applied.retried) == (1, 0)  # found by a lookup, not sent again
    assert applied.outcomes[0].account_id == found["A1"].id
    assert list(entries(raw, ldap_tree.people_dn)) == [f"uid=A1,{ldap_tree.people_dn}"]


class Relay:
    """A TCP relay in front of slapd; see `reply_dropping_relay`."""

    def __init__(self, listener: socket.socket) -> None:
        self.host, self.port = listener.getsockname()
        self.drop_next_reply = threading.Event()
        self.away = threading.Event()  # set: new connections are closed at once
        self.connections: list[socket.socket] = []

    def cut(self) -> None:
        """Close every relayed connection (both ends)."""
        for end in self.connections:
            _close(end)


@contextmanager
def reply_dropping_relay(upstream: launchers.SlapdServer) -> Iterator[Relay]:
    """Relay connections to the server; once `drop_next_reply` is set, the server's next
    reply is not passed on: the client's connection closes instead (the server acted,
    the client never hears of it). While `away` is set, connections are closed as soon
    as they are accepted (nobody answers)."""
    listener = socket.create_server(("127.0.0.1", 0))
    relay = Relay(listener)

    def pump(source: socket.socket, sink: socket.socket, replies: bool) -> None:
        try:
            while data := source.recv(65536):
                if replies and relay.drop_next_reply.is_set():
                    relay.drop_next_reply.clear()
                    break
                sink.sendall(data)
        except OSError:  # the other direction ended the connection
            pass
        for end in (source, sink):
            _close(end)

    def serve() -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:  # closed: the relay stops
                return
            if relay.away.is_set():
                _close(client)
                continue
            server = socket.create_connection((upstream.host, upstream.port))
            relay.connections += [client, server]
            for source, sink, replies in ((client, server, False), (server, client, True)):
                threading.Thread(target=pump, args=(source, sink, replies), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield relay
    finally:
        listener.shutdown(socket.SHUT_RDWR)  # wakes the accept
        listener.close()


def _close(end: socket.socket) -> None:
    """Shut a socket down (which wakes a recv on it in another thread) and close it."""
    try:
        end.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    end.close()
