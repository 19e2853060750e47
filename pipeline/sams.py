"""An AD target's sAMAccountNames, kept for good in the ledger (SPEC "Generated
identifiers", "Active Directory target"): a rename keeps one, a rehire gets it back, no
one else is ever given it, even after the account is deleted.

The ledger's kind is `sam_account_name:<target>` (`kind(target)`); values lowercased.
- `prime(run, target)`: before a batch is applied to an AD target, its driver learns
  the names the ledger keeps (`AdDriver.reserve`); a no-op for any other target.
- `keep_made(run, target)`: after the batch, the names the driver gave the accounts it
  created are kept for their persons (so a name is kept from its first run).
- `keep_read(run, snapshots)`: the report stage of a run that records states keeps,
  for each AD target read, the sAMAccountName (`Account.login`) of every account linked
  to a person (its employeeID, else the ledger's link) who has none kept yet.
A name the ledger keeps for another person is never kept twice: it is skipped with a
warning, and the run goes on.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from jml.config import AdTarget
from jml.model import Snapshot
from pipeline.run import Run

if TYPE_CHECKING:
    from connectors.targets.ad import AdDriver

__all__ = ["keep_made", "keep_read", "kind", "prime"]


def kind(target: str) -> str:
    """The ledger's kind of an AD target's sAMAccountNames."""
    return f"sam_account_name:{target}"


def prime(run: Run, target: str) -> None:
    """Hand the AD target's driver the names kept for good (see the module docstring)."""
    driver = _driver(run, target)
    if driver is not None:
        driver.reserve(run.ledger.reserved_identifiers(kind(target)))


def keep_made(run: Run, target: str) -> None:
    """Keep the names of the accounts the AD target's driver created (and forget them)."""
    driver = _driver(run, target)
    if driver is not None and driver.made:
        made, driver.made = dict(driver.made), {}
        _keep(run, target, made)


def keep_read(run: Run, snapshots: Mapping[str, Snapshot]) -> None:
    """Keep the names of the linked accounts the run read on its AD targets."""
    for target, snapshot in snapshots.items():
        if not _is_ad(run, target):
            continue
        owner_of = {account: eid for eid, account in run.ledger.account_links(target).items()}
        names: dict[str, str] = {}
        for account in snapshot.accounts:
            owner = account.external_id or owner_of.get(account.id or "")
            if owner and account.login:
                names.setdefault(owner, account.login.lower())
        _keep(run, target, names)


def _keep(run: Run, target: str, names: Mapping[str, str]) -> None:
    """Keep `names` (employee_id -> name) for the persons without one; a name kept for
    someone else is skipped with a warning."""
    if not names or run.lock_lost() is not None:
        return
    reserved = run.ledger.reserved_identifiers(kind(target))
    holder = {name: eid for eid, name in reserved.items()}
    new: dict[str, str] = {}
    for eid, name in names.items():
        if eid in reserved:
            continue
        other = holder.get(name)
        if other is not None:
            run.log.warning("target %s: %s: its sAMAccountName is kept for %s: not kept for it", target, eid, other)
            continue
        new[eid] = name
        holder[name] = eid
    if new:
        run.ledger.reserve_identifiers(run.id, kind(target), new)


def _is_ad(run: Run, target: str) -> bool:
    return isinstance(run.config.target(target), AdTarget)


def _driver(run: Run, target: str) -> AdDriver | None:
    """The AD driver of `target` (None for any other kind of target)."""
    if not _is_ad(run, target):
        return None
    from connectors.targets.ad import AdDriver  # the drivers only once a target is used

    driver = getattr(run.targets[target], "driver", None)
    return driver if isinstance(driver, AdDriver) else None
