"""Mutations the suite must catch, run by hand (not by pytest: the file is not named
test_*.py): `.venv/bin/python tests/mutations/run.py [NAME ...]`.

The working tree (tracked and untracked files, not the ignored ones) is copied to a
temporary folder; the named tests first run there unmutated and must pass; then each
mutation replaces one exact snippet of one file of the copy (found exactly once, else
the mutation is reported `stale`), runs its tests there (`PYTHONPATH` puts the copy
before the editable install, also for the CLI subprocesses the tests start), and puts
the file back. A mutation is `caught` when its tests fail (pytest exit 1), `survived`
when they pass, `error` on any other exit. Exit status: 0 when every mutation was
caught, 1 otherwise. The working tree is never written.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Mutation:
    name: str
    path: str
    old: str
    new: str
    tests: tuple[str, ...]
    more: tuple[tuple[str, str], ...] = ()  # further (old, new) snippets of the same file


MUTATIONS = (
    Mutation(
        "guard limit = floor only", "jml/guard.py",
        "limit = max(float(safety.deprovision_floor), safety.max_deprovision_fraction * active)",
        "limit = float(safety.deprovision_floor)",
        ("tests/unit/test_guard.py",),
    ),
    Mutation(
        "guard counts disabled accounts as active", "jml/guard.py",
        "if a.active and a.external_id", "if a.external_id",
        ("tests/unit/test_guard.py",),
    ),
    Mutation(
        "SoD only when all bundles of an entry match", "jml/policy.py",
        "if len(clash) > 1:", "if len(clash) == len(entry.bundles):",
        ("tests/unit/test_policy.py",),
    ),
    Mutation(
        "lost creates never settled", "connectors/kernel/target.py",
        "asking = [i for i in pending if i in state.unsure]", "asking: list[int] = []",
        ("tests/connectors/test_lost_replies.py",),
    ),
    Mutation(
        "token appended to the summary artifact", "tasks/artifacts.py",
        "markdown=summary_markdown(document),",
        'markdown=summary_markdown(document) + "".join(__import__("os").environ.get(getattr(t, "token_env", None)'
        ' or "", "") for t in run.config.targets),',
        ("tests/flows/test_hr_sync.py::test_the_runs_artifacts_never_hold_the_targets_token",),
    ),
    Mutation(
        "batches grow in number, not in size (finding 3)", "pipeline/apply.py",
        "size = max(MIN_BATCH, -(-len(ops) // MAX_BATCHES))", "size = MIN_BATCH",
        ("tests/flows/test_hr_sync.py::test_task_runs_do_not_grow_with_the_population",),
    ),
    Mutation(
        "a formula in last_name reaches the targets (finding 5)", "expectations/hr_feed.py",
        'TEXT_COLUMNS = ("first_name", "last_name", ', 'TEXT_COLUMNS = ("first_name", ',
        ("tests/connectors/test_hostile_feeds.py",),
    ),
    Mutation(
        "LDAP never reconnects after a lost connection (finding 9)", "connectors/targets/ldap/wire.py",
        "if self._connection is not None and not self._connection.closed:", "if self._connection is not None:",
        ("tests/connectors/test_ldap.py::test_a_server_that_goes_away_is_retryable_and_comes_back",),
        more=(("connection, self._connection = self._connection, None", "connection = self._connection"),),
    ),
    Mutation(
        "SQL source repr shows the password (finding 9)", "connectors/sources/sql.py",
        "url={shown(self._config.url)!r})", "url={self._url.render_as_string(hide_password=False)!r})",
        ("tests/connectors/test_sql_source.py::test_the_password_never_shows",),
    ),
    Mutation(
        "SQL source logs the URL with its password (finding 9)", "connectors/sources/sql.py",
        'log.info("source %s: read %d rows in %.2f s", self.name,',
        'log.info("source %s: read %d rows in %.2f s", self._url.render_as_string(hide_password=False),',
        ("tests/connectors/test_sql_source.py::test_the_password_never_shows",),
    ),
    Mutation(
        "the audit's actor is not the CLI's user (finding 9)", "app/cli.py",
        'bound(config, as_actor=os.environ.get("USER", "cli"))', 'bound(config, as_actor="cli")',
        ("tests/e2e/test_safety.py::test_feed_gate_halts_on_too_many_invalid_rows_until_overridden",),
    ),
    Mutation(
        "reconcile ignores as_of (finding 8)", "flows/reconcile.py",
        "as_of=as_of or today(),", "as_of=today(),",
        ("tests/flows/test_as_of.py::test_reconcile_judges_drift_as_of_the_day_it_is_given",),
    ),
    Mutation(
        "provision-person ignores as_of (finding 8)", "flows/provision_person.py",
        "as_of=as_of or today(),", "as_of=today(),",
        ("tests/flows/test_as_of.py::test_provision_person_evaluates_the_person_as_of_the_day_it_is_given",),
    ),
    Mutation(
        "the demo approves nothing between day 1 and 2 (finding 4)", "app/demo.py",
        'if row.kind != "approval":', 'if True:',
        ("tests/app/test_demo.py",),
    ),
    Mutation(
        "a SCIM delta never updates group memberships (issue 11)", "connectors/targets/scim/changes.py",
        "if (uid in members) != (name in account.entitlements):", "if False:",
        ("tests/connectors/test_scim_changes.py",),
    ),
    Mutation(
        "a SCIM delta merges although accounts went (issue 11)", "connectors/targets/scim/changes.py",
        "if totals != (len(accounts.keys() | changed_users.keys()), len(names)):", "if False:",
        ("tests/connectors/test_scim_changes.py", "tests/flows/test_known_state.py"),
    ),
    Mutation(
        "a SCIM delta merges a changed externalId (issue 11)", "connectors/targets/scim/changes.py",
        'if before is not None and before.external_id != _text(user.get("externalId")):', "if False:",
        ("tests/connectors/test_scim_changes.py",),
    ),
    Mutation(
        "every run reads its targets in full (issue 11)", "pipeline/targets.py",
        "if known is not None and fresh and known.config == config and not run.read_in_full:", "if False:",
        ("tests/flows/test_known_state.py",),
    ),
    Mutation(
        "reconcile plans from what is known (issue 11)", "flows/reconcile.py",
        "read_in_full=True) as run:", "read_in_full=False) as run:",
        ("tests/flows/test_known_state.py",),
    ),
    Mutation(
        "an LDAP delta ignores the entries that went (issue 11)", "connectors/targets/ldap/changes.py",
        "accounts = {a.id: a for a in known.accounts if a.id in census.people}",
        "accounts = {a.id: a for a in known.accounts if a.id in census.people or True}",
        ("tests/connectors/test_ldap_delta.py", "tests/flows/test_ldap_known_state.py"),
    ),
    Mutation(
        "an LDAP delta does not read again the reports of a DN that went (issue 11)",
        "connectors/targets/ldap/driver.py",
        '(("entryUUID", moved.reread), ("manager", moved.touched))', '(("entryUUID", moved.reread),)',
        ("tests/connectors/test_ldap_delta.py",),
    ),
    Mutation(
        "an LDAP delta does not read again the groups listing a DN that went (issue 11)",
        "connectors/targets/ldap/driver.py",
        "for chunk in chunked(moved.touched, self.lookup_chunk):", "for chunk in chunked([], self.lookup_chunk):",
        ("tests/connectors/test_ldap_delta.py",),
    ),
    Mutation(
        "an LDAP delta starts at jml's clock alone (issue 11)", "connectors/targets/ldap/changes.py",
        "start = min(started, latest) if latest is not None else started", "start = started",
        ("tests/connectors/test_ldap_changes.py",),
    ),
    Mutation(
        "an AD delta misses reports whose manager is read as a DN (issue 11)", "connectors/targets/ad/changes.py",
        "(manager in went or manager not in eids)", "(manager in went)",
        ("tests/connectors/test_ad_delta.py",),
    ),
    Mutation(
        "an AD delta misses reports whose manager went (issue 11)", "connectors/targets/ad/changes.py",
        "(manager in went or manager not in eids)", "(manager not in eids)",
        ("tests/connectors/test_ad_delta.py",),
    ),
    Mutation(
        "an AD delta trusts another DC's USNs (issue 11)", "connectors/targets/ad/driver.py",
        "or not here or here != server:", "or not here:",
        ("tests/connectors/test_ad_delta.py",),
    ),
    Mutation(
        "targets are worked on one after another (issue 11)", "pipeline/parallel.py",
        "if len(names) <= 1:", "if True:",
        ("tests/flows/test_parallel_targets.py",),
    ),
    Mutation(
        "a SQL delta keeps reports of a manager who went (issue 11)", "connectors/targets/sql/changes.py",
        'or before.attributes.get("manager") in gone:', ":",
        ("tests/connectors/test_sql_delta.py",),
    ),
    Mutation(
        "a SQL delta keeps the known users the census no longer lists (issue 11)", "connectors/targets/sql/changes.py",
        "    for account_id, external in external_of.items():",
        "    for account_id, external in {**external_of, **{a: a_.external_id for a, a_ in was.items()}}.items():",
        ("tests/connectors/test_sql_delta.py",),
    ),
    Mutation(
        "jml's own SQL writes are not stamped (issue 11)", "connectors/targets/sql/rows.py",
        "if tables.updated_at is not None else {}", "if False else {}",
        ("tests/connectors/test_sql_delta.py",),
    ),
    Mutation(
        "verify reads every group back (issue 11)", "pipeline/verify.py",
        "return target.read_accounts(sorted(persons), groups)", "return target.read_accounts(sorted(persons))",
        ("tests/flows/test_known_state.py",),
    ),
    Mutation(
        "verify forgets the memberships of the groups it did not read (issue 11)", "pipeline/verify.py",
        "entitlements=(account.entitlements & groups) | unchanged", "entitlements=account.entitlements & groups",
        ("tests/flows/test_known_state.py",),
    ),
    Mutation(
        "a SCIM PATCH removes one member per operation (issue 11)", "connectors/targets/scim/resources.py",
        "(add or len(runs[-1][1]) < REMOVALS_PER_OPERATION)", "add",
        ("tests/connectors/test_scim.py",),
    ),
    Mutation(
        "the plan leaves grants in person order (issue 11)", "jml/plan.py",
        'op.entitlement if isinstance(op, Membership) else "",', '"",',
        ("tests/unit/test_plan.py",),
    ),
    Mutation(
        "the ledger keeps the run's read, not verify's fresher full read (issue 11)", "pipeline/report.py",
        "reads={**planned.targets.reads, **execution.reads}", "reads={**planned.targets.reads}",
        ("tests/flows/test_known_state.py::test_verify_reads_a_large_load_back_in_one_full_read",),
    ),
    Mutation(
        "a test docstring names a file that does not exist (finding 9)", "tests/connectors/test_kernel.py",
        "tests/connectors/test_lost_replies.py, random", "tests/connectors/test_faults.py, random",
        ("tests/unit/test_references.py",),
    ),
)  # fmt: skip


def copy_tree(into: Path) -> None:
    """The working tree's tracked and untracked (not ignored) files, into `into`."""
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, check=True, capture_output=True
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():
            (into / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, into / name)


def pytest(copy: Path, tests: tuple[str, ...]) -> tuple[int, float, str]:
    """Run `tests` in the copy: pytest's exit code, the seconds it took, its output."""
    env = {**os.environ, "PYTHONPATH": str(copy)}
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *tests],
        cwd=copy, env=env, capture_output=True, text=True,
    )  # fmt: skip
    return done.returncode, time.monotonic() - started, done.stdout + done.stderr


def verdict(mutation: Mutation, copy: Path) -> tuple[str, float]:
    """Apply `mutation` to the copy, run its tests, restore the file."""
    target = copy / mutation.path
    original = target.read_text()
    mutated = original
    for old, new in ((mutation.old, mutation.new), *mutation.more):
        if mutated.count(old) != 1:
            return "stale", 0.0
        mutated = mutated.replace(old, new)
    target.write_text(mutated)
    try:
        code, seconds, _ = pytest(copy, mutation.tests)
    finally:
        target.write_text(original)
    return {0: "survived", 1: "caught"}.get(code, f"error (pytest exit {code})"), seconds


def main(names: list[str]) -> int:
    chosen = [m for m in MUTATIONS if not names or m.name in names]
    with tempfile.TemporaryDirectory(prefix="jml-mutations-") as folder:
        copy = Path(folder)
        copy_tree(copy)
        tests = tuple(dict.fromkeys(t for m in chosen for t in m.tests))
        code, seconds, output = pytest(copy, tests)
        if code != 0:
            print(output[-3000:])
            print(f"the tests fail unmutated (pytest exit {code}): no verdict is worth anything")
            return 1
        print(f"baseline: {len(tests)} test selections pass unmutated ({seconds:.0f} s)\n")
        print("| mutation | file | tests | result | s |\n|---|---|---|---|---|")
        results = []
        for mutation in chosen:
            result, seconds = verdict(mutation, copy)
            results.append(result)
            print(f"| {mutation.name} | {mutation.path} | {', '.join(mutation.tests)} | {result} | {seconds:.0f} |",
                  flush=True)  # fmt: skip
    return 0 if all(r == "caught" for r in results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
