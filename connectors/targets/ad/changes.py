"""An AD target's delta reads (SPEC "Incremental runs"), without I/O: where a read
stands, and which accounts a delta must read besides the changed ones.

A read's memo (`Snapshot.memo`) is `{"usn": N, "server": S}`: the DC's
highestCommittedUSN, asked before the read began, and its dsServiceName. USNs are
one DC's own count, so a delta asks the same DC (another one: read in full) for the
objects with `uSNChanged > N`: an add, a modify, a move, a rename and a membership
change (`member` is the group's) all raise it. The merge is
`connectors.targets.ldap.changes.merge`, over a census of the users' objectGUIDs (and
the few attributes a handle is made of) and the groups' DNs.

`manager` and `member` are linked attributes: they follow a move, and a deleted
object's links go with it, without raising the uSNChanged of the object holding them.
So a delta also reads again (`rereads`):
- the reports of a manager that went (deleted or moved out of `base_dn`), or whose
  employeeID changed: their `manager` reads otherwise now;
- every account whose `manager` is read as a DN (a manager outside `base_dn`, or one
  without employeeID): that DN follows the manager's moves unseen.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connectors.targets.ldap.changes import Census
from connectors.targets.ldap.entries import first
from jml.model import Snapshot

__all__ = ["changed_since", "clock_of", "memo", "rereads"]


def memo(usn: int, server: str) -> dict[str, Any]:
    """The memo of a read that began when the DC `server` had committed `usn`."""
    return {"usn": usn, "server": server}


def clock_of(root: Mapping[str, list[str]]) -> tuple[int | None, str | None]:
    """(highestCommittedUSN, dsServiceName) of a root DSE's values (None: not given)."""
    try:
        usn: int | None = int(first(root, "highestCommittedUSN") or "")
    except ValueError:
        usn = None
    return usn, first(root, "dsServiceName")


def changed_since(kind: str, usn: int) -> str:
    """The filter of the objects of `kind` (a filter) changed after `usn`."""
    return f"(&{kind}(uSNChanged>={int(usn) + 1}))"


def rereads(known: Snapshot, census: Census, changed: Mapping[str, str | None]) -> list[str]:
    """The objectGUIDs a delta from `known` must read besides the `changed` ones
    (objectGUID -> employeeID), given the census (module docstring); the accounts that
    came and are not among the changed are read too."""
    known_ids = {account.id for account in known.accounts}
    eids = {account.external_id for account in known.accounts if account.external_id}
    went = {
        account.external_id
        for account in known.accounts
        if account.external_id and (account.id not in census.people or changed.get(account.id or "", account.external_id) != account.external_id)
    }  # fmt: skip
    wanted = [
        account.id
        for account in known.accounts
        if account.id in census.people and account.id not in changed
        and (manager := account.attributes.get("manager")) is not None and (manager in went or manager not in eids)
    ]  # fmt: skip
    wanted += [guid for guid in census.people if guid not in known_ids and guid not in changed]
    return sorted({guid for guid in wanted if guid})
