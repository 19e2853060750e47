"""Benchmark: a directory target's delta read (`read_changes`) beside its full read, in
one run, against a throwaway OpenLDAP slapd (and, with `--ad`, a Samba AD DC).

    .venv/bin/python bench/directory_delta.py [--people 1000 10000] [--repeats 3] [--ad 1000]

For each N, in a fresh subtree: N people added by raw ldap3 adds (every tenth the
manager of the next nine), all members of `all-staff`, the managers of `managers`.
Then, the median of `--repeats` each:
- full: `read()`, what a run reads without known state;
- no change: `read_changes(known)` right after the full read (`known`);
- 1 % change: the same after every hundredth person's title was changed outside jml.
Reported: seconds of each and the entries read by each (by the delta's own searches:
the census reads only ids and DNs). The margin `OVERLAP` is 0 here (one clock) and each
delta starts a second after the last write. Not part of `make test`.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import ldap3  # noqa: E402

from app import launchers  # noqa: E402
from connectors.factory import build_target  # noqa: E402
from connectors.kernel import driver as kernel_driver  # noqa: E402
from jml.config import AdTarget, LdapTarget  # noqa: E402
from tests.connectors.apps import ad_target, ldap_target  # noqa: E402

ENV = "BENCH_DIRECTORY_PASSWORD"


def median_of(repeats: int, measure: Callable[[], object]) -> tuple[float, object]:
    """The median seconds of `repeats` calls, and the last call's result."""
    seconds, result = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        result = measure()
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds), result


def fill_ldap(connection: ldap3.Connection, tree: launchers.LdapTree, people: int) -> list[str]:
    """Add the people and the two groups; the people's DNs."""
    dns = [f"uid=E{n:06d},{tree.people_dn}" for n in range(people)]
    for n, dn in enumerate(dns):
        record = {"cn": f"Person {n}", "sn": f"P{n}", "mail": f"e{n}@example.com", "title": "ENG",
                  "departmentNumber": "Engineering", "employeeNumber": str(n)}  # fmt: skip
        if n % 10:
            record["manager"] = dns[n - n % 10]
        assert connection.add(dn, ["inetOrgPerson"], record), connection.result
    for name, members in (("all-staff", dns), ("managers", dns[::10])):
        assert connection.add(f"cn={name},{tree.groups_dn}", ["groupOfNames"], {"cn": name, "member": members})
    return dns


def fill_ad(connection: ldap3.Connection, ou: launchers.AdOu, people: int) -> list[str]:
    dns = [f"CN=Person {n},{ou.people_dn}" for n in range(people)]
    for n, dn in enumerate(dns):
        record = {"sAMAccountName": f"b{ou.base_dn[4:12]}{n}", "employeeID": f"E{n:06d}", "title": "ENG",
                  "department": "Sales", "userAccountControl": "514"}  # fmt: skip
        if n % 10:
            record["manager"] = dns[n - n % 10]
        assert connection.add(dn, ["top", "person", "organizationalPerson", "user"], record), connection.result
    for name, members in (("all-staff", dns), ("managers", dns[::10])):
        dn = f"CN={name},{ou.groups_dn}"
        assert connection.add(dn, ["top", "group"], {"sAMAccountName": f"{name}-{ou.base_dn[4:12]}"}), connection.result
        for start in range(0, len(members), 500):
            assert connection.modify(dn, {"member": [(ldap3.MODIFY_ADD, members[start : start + 500])]})
    return dns


def measure(kind: str, target, connection: ldap3.Connection, dns: list[str], repeats: int) -> dict:
    """The three reads of one filled target (module docstring)."""
    time.sleep(1.1)
    full_s, known = median_of(repeats, target.read)
    time.sleep(1.1)
    none_s, delta = median_of(repeats, lambda: target.read_changes(known))
    assert delta is not None, "the delta read fell back to a full read"
    for dn in dns[::100]:
        assert connection.modify(dn, {"title": [(ldap3.MODIFY_REPLACE, ["Changed"])]}), connection.result
    time.sleep(1.1)
    some_s, delta = median_of(repeats, lambda: target.read_changes(known))
    assert delta is not None and sum(a.attributes.get("title") == "Changed" for a in delta.accounts) == len(dns[::100])
    return {"kind": kind, "people": len(dns), "full": full_s, "no change": none_s, "1 % change": some_s}


def bench_server(kind: str, server, populations: list[int], repeats: int, place: Callable, fill: Callable,
                 config_of: Callable) -> list[dict]:  # fmt: skip
    """The rows of one running server: for each population, a fresh `place()` (subtree
    or OU), `fill(connection, place, people)` and the three reads of `config_of(place)`."""
    os.environ[ENV] = server.password
    rows = []
    for people in populations:
        where = place()
        connection = server.connection()
        dns = fill(connection, where, people)
        with build_target(config_of(where)) as target:
            rows.append(measure(kind, target, connection, dns, repeats))
        connection.unbind()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--ad", type=int, nargs="*", default=[], help="AD populations (a Samba DC is started)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    kernel_driver.OVERLAP = timedelta(0)
    rows = []
    with tempfile.TemporaryDirectory() as folder, launchers.slapd_server(Path(folder)) as slapd:
        rows += bench_server("LDAP", slapd, args.people, args.repeats, slapd.tree, fill_ldap,
                             lambda tree: LdapTarget.model_validate(ldap_target("dir", slapd, tree, ENV)))  # fmt: skip
    if args.ad:
        from tests.tls import authority

        def certify(host: str):
            found = authority(Path(tempfile.mkdtemp()), host)
            return found.cert_file, found.key_file, found.ca_file

        with tempfile.TemporaryDirectory() as folder, launchers.samba_dc(Path(folder), certify=certify) as dc:
            rows += bench_server("AD", dc, args.ad, args.repeats, dc.ou, fill_ad,
                                 lambda ou: AdTarget.model_validate(ad_target("ad", dc, ou, ENV)))  # fmt: skip
    print("| target | people | full read | delta, no change | delta, 1 % changed |")
    print("|---|---|---|---|---|")
    for row in rows:
        print(f"| {row['kind']} | {row['people']:,} | {row['full']:.2f} s | {row['no change']:.2f} s | "
              f"{row['1 % change']:.2f} s |")  # fmt: skip


if __name__ == "__main__":
    main()
