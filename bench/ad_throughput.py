"""Benchmark: people created per second in Active Directory (a throwaway Samba AD DC,
app/launchers/samba.py) through the AD driver, against raw ldap3 adds of the same
objects to the same DC in the same run.

    .venv/bin/python bench/ad_throughput.py [--people 300] [--repeats 3]

Each repeat, in a fresh OU each: N people (every tenth the manager of the next nine),
each a member of `all-staff`, the managers of `managers` too.
- driver: the creates and grants through `Target.apply` in batches of 100 operations, as
  the apply stage sends them (it generates sAMAccountNames, names, passwords, reads
  each new objectGUID, batches member adds per group);
- raw: one ldap3 add per user with the same attributes (sAMAccountName, UPN, password,
  userAccountControl, manager DN), then one modify per 100 members per group.
Reported: the median people per second of each and their ratio (target >= 0.7). The
DC's start is not counted. Not part of `make test`.

The people have distinct names (sAMAccountName template `{first_name}{last_name}`):
each new name then costs one search. When many share one stem (`jdoe`), that search
returns every holder of the stem, so the N-th Jane Doe costs more than the first.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import ldap3  # noqa: E402

from app import launchers  # noqa: E402
from connectors.factory import build_target  # noqa: E402
from connectors.targets.ad.schema import NORMAL_ACCOUNT, new_password, password_value  # noqa: E402
from jml.config import AdTarget  # noqa: E402
from jml.operations import Create, Grant, Operation  # noqa: E402
from tests.connectors.apps import ad_target  # noqa: E402
from tests.tls import authority  # noqa: E402

BATCH = 100
SECRET = "BENCH_SECRET"


def manager_of(n: int) -> int | None:
    return None if n % 10 == 0 else n - n % 10


def operations(count: int, run: str) -> list[Operation]:
    ops: list[Operation] = []
    for n in range(count):
        boss = manager_of(n)
        attributes = {
            "user_name": f"d{run}{n}@example.com", "given_name": f"Given{n}", "family_name": f"Bench{run}",
            "display_name": f"Given{n} Bench{run}", "email": f"d{run}{n}@example.com", "employee_number": f"B{n}",
            "department": "Engineering", "title": "ENG", "manager": None if boss is None else f"B{boss}",
        }  # fmt: skip
        ops.append(Create(target="t", employee_id=f"B{n}", reason="bench", attributes=attributes, active=True))
    for n in range(count):
        ops.append(Grant(target="t", employee_id=f"B{n}", reason="bench", entitlement="all-staff"))
        if n % 10 == 0:
            ops.append(Grant(target="t", employee_id=f"B{n}", reason="bench", entitlement="managers"))
    return ops


def through_driver(dc: launchers.SambaDc, count: int, run: str) -> float:
    ou = dc.ou()
    # distinct names, as the raw adds have (one stem shared by all would be numbered
    # past every holder: see the module docstring)
    template = {"template": "{first_name}{last_name}"}
    config = AdTarget.model_validate(ad_target("t", dc, ou, SECRET, sam_account_name=template))
    ops = operations(count, run)
    with build_target(config, {SECRET: dc.password}) as target:
        started = time.perf_counter()
        for start in range(0, len(ops), BATCH):
            failed = [o for o in target.apply(ops[start : start + BATCH]).outcomes if not o.ok]
            assert not failed, failed[0]
        elapsed = time.perf_counter() - started
        assert len(target.read().accounts) == count
    return count / elapsed


def raw_adds(dc: launchers.SambaDc, count: int, run: str) -> float:
    ou = dc.ou()
    connection = dc.connection()
    user = ["top", "person", "organizationalPerson", "user"]
    try:
        started = time.perf_counter()
        dns = []
        for n in range(count):
            boss = manager_of(n)
            dn = f"CN=Given{n} Bench{run}r,{ou.engineering_dn}"
            values = {
                "sAMAccountName": f"r{run}-{n}", "userPrincipalName": f"r{run}-{n}@example.com", "employeeID": f"B{n}",
                "givenName": f"Given{n}", "sn": f"Bench{run}", "displayName": f"Given{n} Bench{run}",
                "mail": f"r{run}{n}@example.com", "department": "Engineering", "title": "ENG",
                "userAccountControl": str(NORMAL_ACCOUNT), "unicodePwd": password_value(new_password()),
                "pwdLastSet": "0",
            }  # fmt: skip
            if boss is not None:
                values["manager"] = dns[boss]
            assert connection.add(dn, user, values), connection.result
            dns.append(dn)
        for name, chosen in (("all-staff", dns), ("managers", dns[::10])):
            group = f"CN={name},{ou.groups_dn}"
            group_values = {"sAMAccountName": f"raw-{name}-{run}", "groupType": "-2147483646"}
            assert connection.add(group, ["top", "group"], group_values), connection.result
            for start in range(0, len(chosen), BATCH):
                change = {"member": [(ldap3.MODIFY_ADD, chosen[start : start + BATCH])]}
                assert connection.modify(group, change), connection.result
        elapsed = time.perf_counter() - started
    finally:
        connection.unbind()
    return count / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="jml-bench-ad-") as folder:
        root = Path(folder)

        def certify(host: str):
            (root / "tls").mkdir(exist_ok=True)
            found = authority(root / "tls", host)
            return found.cert_file, found.key_file, found.ca_file

        (root / "dc").mkdir()
        with launchers.samba_dc(root / "dc", certify=certify) as dc:
            driver, raw = [], []
            for repeat in range(args.repeats):
                driver.append(through_driver(dc, args.people, f"{repeat}"))
                raw.append(raw_adds(dc, args.people, f"{repeat}"))
                print(f"repeat {repeat + 1}: driver {driver[-1]:.1f}/s, raw ldap3 {raw[-1]:.1f}/s", flush=True)
    d, r = statistics.median(driver), statistics.median(raw)
    print(f"people={args.people} repeats={args.repeats}: driver {d:.1f} people/s, raw ldap3 {r:.1f} people/s, "
          f"ratio {d / r:.2f} (target >= 0.70)")  # fmt: skip


if __name__ == "__main__":
    main()
