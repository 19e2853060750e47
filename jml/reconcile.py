"""What a full read of the targets shows that HR and the ledger do not explain.

- **drift**: a person's existing account differs from the desired state (attributes,
  active flag, memberships), or the account the ledger links to them is gone. One
  `drift` issue per (target, person), keyed like verify's, so either flow closes it
  once the target matches again. A leaver whose account is still active is drift too,
  flagged as such.
- **orphan**: an account linked to no person: not linked by the ledger, not matched by
  the plan, and whose externalId names nobody HR or the ledger knows. Orphans are
  never changed automatically (they may be service accounts); an `orphan` issue asks a
  person to decide.

Pure functions over a plan and snapshots; no I/O.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Set

from jml.model import Issue, IssueKind, Lifecycle, Snapshot
from jml.operations import Action, Grant, Operation, Revoke, Update
from jml.plan import Desired, Plan

_LEAVING = (Lifecycle.TERMINATED, Lifecycle.DELETE)


def drift_issues(plan: Plan, desired: Mapping[str, Desired], links: Mapping[str, Mapping[str, str]]) -> list[Issue]:
    """One `drift` issue per (target, person) whose existing account the plan changes.

    A create is drift only when the ledger links the person to an account on that
    target (the account vanished); otherwise it is a joiner, which is hr-sync's job.
    """
    per_account: dict[tuple[str, str], list[Operation]] = defaultdict(list)
    for op in plan.operations:
        per_account[(op.target, op.employee_id)].append(op)
    issues = []
    for (target, eid), ops in sorted(per_account.items()):
        actions = [op.action for op in ops]
        if Action.CREATE in actions:
            if eid not in links.get(target, {}):
                continue
            what = "the account the ledger links to is gone"
        else:
            what = _describe(ops)
        person = desired.get(eid)
        leaver = person is not None and person.lifecycle in _LEAVING and Action.DISABLE in actions
        if leaver and person is not None:
            what = f"leaver ({person.lifecycle.value}) whose account is still active; {what}"
        issues.append(
            Issue(
                IssueKind.DRIFT,
                f"drift:{target}:{eid}",
                f"{eid}: account on {target} differs from the desired state: {what}",
                employee_id=eid,
                target=target,
                data={"actions": [a.value for a in actions], "leaver": leaver},
            )
        )
    return issues


def _describe(ops: list[Operation]) -> str:
    parts = []
    for op in ops:
        match op:
            case Update(changes=changes):
                parts.append("attributes " + ", ".join(sorted(changes)))
            case Grant(entitlement=name):
                parts.append(f"missing {name}")
            case Revoke(entitlement=name):
                parts.append(f"extra {name}")
            case _:
                parts.append(f"to {op.action.value}")
    return "; ".join(parts)


def orphan_issues(
    snapshots: Mapping[str, Snapshot],
    links: Mapping[str, Mapping[str, str]],
    matched: Mapping[str, Mapping[str, str]],
    known: Set[str],
) -> list[Issue]:
    """One `orphan` issue per account linked to no person (see the module docstring).
    The detail names the account by its id and externalId only (no names, no email)."""
    issues = []
    for target, snapshot in sorted(snapshots.items()):
        claimed = set(links.get(target, {}).values()) | set(matched.get(target, {}).values())
        for account in snapshot.accounts:
            if account.id in claimed or (account.external_id and account.external_id in known):
                continue
            external = f" (externalId {account.external_id})" if account.external_id else ""
            state = "active" if account.active else "inactive"
            issues.append(
                Issue(
                    IssueKind.ORPHAN,
                    f"orphan:{target}:{account.id}",
                    f"{state} account {account.id}{external} on {target} belongs to no person"
                    " in HR; left alone",
                    target=target,
                    data={"account_id": account.id, "external_id": account.external_id,
                          "active": account.active},
                )
            )  # fmt: skip
    return issues
