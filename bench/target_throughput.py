"""Benchmark: creates per second through each target connector, against the real servers
the tests use: scim2-server, OpenLDAP slapd, SQLite and PostgreSQL.

    .venv/bin/python bench/target_throughput.py [--creates 1000] [--grants] [--fast]

For each target: an empty system, then N creates (every tenth person a manager of the
next nine, so manager links are resolved too) applied the way the apply stage does it,
in batches of 100 operations through `Target.apply`; with `--grants`, then one grant per
person (one group for all, one for the managers). The figure is operations / wall time of
the apply calls (the servers' start is not counted); a read-back checks every account is
there. slapd and PostgreSQL run durable (fsync on) unless `--fast`. Not part of `make test`.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app import launchers  # noqa: E402
from connectors.base import Target  # noqa: E402
from connectors.factory import build_target  # noqa: E402
from jml.config import LdapTarget, ScimTarget, SqlTarget  # noqa: E402
from jml.operations import Create, Grant, Operation  # noqa: E402
from tests.connectors.apps import create_app_schema, ldap_target, sql_target  # noqa: E402

BATCH = 100  # operations per apply call, as tasks/apply.py cuts them (MIN_BATCH)
SECRET = "BENCH_SECRET"


def operations(count: int, grants: bool) -> list[Operation]:
    ops = []
    for n in range(count):
        eid = f"B{n:06d}"
        manager = None if n % 10 == 0 else f"B{n - n % 10:06d}"
        attributes = {
            "user_name": f"b{n}@example.com", "given_name": f"Given{n}", "family_name": "Bench",
            "display_name": f"Given{n} Bench", "email": f"b{n}@example.com", "employee_number": eid,
            "department": "Engineering", "title": "ENG", "manager": manager,
        }  # fmt: skip
        ops.append(Create(target="t", employee_id=eid, reason="bench", attributes=attributes, active=True))
    if grants:
        for n in range(count):
            name = "managers" if n % 10 == 0 else "all-staff"
            ops.append(Grant(target="t", employee_id=f"B{n:06d}", reason="bench", entitlement=name))
    return ops


@contextmanager
def systems(names: list[str], fast: bool) -> Iterator[dict[str, Callable[[], Target]]]:
    """name -> a function building a connector to a fresh, empty system of that kind."""
    with ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="jml-bench-")))
        made: dict[str, Callable[[], Target]] = {}
        if "scim" in names:
            scim = stack.enter_context(launchers.scim_server())

            def scim_target() -> Target:
                tenant = scim.tenant()
                config = ScimTarget(name="t", type="scim", url=tenant.url, token_env=SECRET)
                return build_target(config, {SECRET: tenant.token})

            made["scim"] = scim_target
        if "ldap" in names:
            slapd = stack.enter_context(launchers.slapd_server(folder / "slapd", durable=not fast))

            def ldap() -> Target:
                config = LdapTarget.model_validate(ldap_target("t", slapd, slapd.tree(), SECRET))
                return build_target(config, {SECRET: slapd.password})

            made["ldap"] = ldap
        if "sqlite" in names:
            counter = iter(range(1000))

            def sqlite() -> Target:
                url = f"sqlite:///{folder / f'app{next(counter)}.db'}"
                create_app_schema(url)
                return build_target(SqlTarget.model_validate(sql_target("t", url)), {})

            made["sqlite"] = sqlite
        if "postgresql" in names:
            pg_folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="jml-bench-pg-")))
            postgres = stack.enter_context(launchers.postgres_server(pg_folder, durable=not fast))

            def postgresql() -> Target:
                url = postgres.database()
                create_app_schema(url)
                return build_target(SqlTarget.model_validate(sql_target("t", url)), {})

            made["postgresql"] = postgresql
        yield made


def measure(target: Target, ops: list[Operation]) -> tuple[float, int]:
    """(seconds spent in apply, failed operations)."""
    failed = 0
    started = time.perf_counter()
    for start in range(0, len(ops), BATCH):
        failed += sum(1 for outcome in target.apply(ops[start : start + BATCH]).outcomes if not outcome.ok)
    return time.perf_counter() - started, failed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--creates", type=int, default=1000)
    parser.add_argument("--grants", action="store_true", help="add one grant per person")
    parser.add_argument("--fast", action="store_true", help="slapd and PostgreSQL without fsync")
    parser.add_argument("--targets", nargs="+", default=["scim", "ldap", "sqlite", "postgresql"])
    parser.add_argument("--repeat", type=int, default=3, help="runs per target; the best is shown")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    ops = operations(args.creates, args.grants)
    what = f"{args.creates} creates" + (f" + {args.creates} grants" if args.grants else "")
    print(f"{what}, batches of {BATCH}, {'no fsync' if args.fast else 'durable'} slapd/PostgreSQL")
    print(f"{'target':<12} {'seconds':>8} {'ops/s':>8}   runs (s)")
    with systems(args.targets, args.fast) as made:
        for name in args.targets:
            runs = []
            for _ in range(args.repeat):
                target = made[name]()
                try:
                    seconds, failed = measure(target, ops)
                    accounts = len(target.read().accounts)
                finally:
                    target.close()
                assert failed == 0 and accounts == args.creates, (name, failed, accounts)
                runs.append(seconds)
            best = min(runs)
            shown = " ".join(f"{r:.2f}" for r in runs)
            print(f"{name:<12} {best:>8.2f} {len(ops) / best:>8.0f}   {shown}", flush=True)


if __name__ == "__main__":
    main()
