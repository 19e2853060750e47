"""The sAMAccountNames an AD target gives: the one the ledger keeps for a person (a
rehire gets theirs back), else the first free one, free meaning that neither the
domain holds it nor the ledger keeps it for anyone (SPEC "Active Directory target")."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Mapping

import ldap3
from ldap3.utils.conv import escape_filter_chars

from connectors.base import Conflict
from connectors.targets.ad.entries import Entry
from connectors.targets.ad.names import first_free, sam_stem
from connectors.targets.ldap.entries import first
from connectors.targets.ldap.wire import Wire
from jml.mapping import Compiled

__all__ = ["SamNames"]


class SamNames:
    """The names of one target: `wire` searches the `domain` (its DC= part) for the
    names it holds; `spec` (the sam_account_name template) and `max_length` make a new
    one. `reserve(names)` hands over the names the ledger keeps."""

    def __init__(self, target: str, wire: Wire, domain: str, spec: Compiled, max_length: int) -> None:
        self._target = target
        self._wire = wire
        self._domain = domain
        self._spec = spec
        self._max_length = max_length
        self._reserved: dict[str, str] = {}
        self._kept: list[str] = []  # the reserved names, sorted: a prefix is one bisect

    def reserve(self, names: Mapping[str, str]) -> None:
        """The sAMAccountNames kept for good (employee_id -> name): `new` gives a
        person theirs back and never gives anyone else one of them."""
        self._reserved = {eid: name.lower() for eid, name in names.items()}
        self._kept = sorted(self._reserved.values())

    def new(self, employee_id: str, handle: Entry) -> str:
        """The sAMAccountName of a new account: the one kept for the person (Conflict
        when another object holds it), else the first free one (`taken`)."""
        kept = self._reserved.get(employee_id)
        if kept is None:
            stem = sam_stem(self._spec, handle.columns, employee_id)
            return first_free(stem, self._max_length, self.taken)
        if kept in self._held(kept):
            raise Conflict(f"{self._target}: {employee_id}: the sAMAccountName kept for them is held by another object")
        return kept

    def taken(self, prefix: str) -> set[str]:
        """The names (lowercased) starting with `prefix` that the domain holds or the
        ledger keeps for someone."""
        start = prefix.lower()
        taken = self._held(prefix)
        at = bisect_left(self._kept, start)
        while at < len(self._kept) and self._kept[at].startswith(start):
            taken.add(self._kept[at])
            at += 1
        return taken

    def _held(self, prefix: str) -> set[str]:
        """The sAMAccountNames (lowercased) in the domain that start with `prefix`."""
        wanted = f"(sAMAccountName={escape_filter_chars(prefix)}*)"
        found = self._wire.search(self._domain, wanted, ["sAMAccountName"], scope=ldap3.SUBTREE)
        return {(first(values, "sAMAccountName") or "").lower() for _, values in found}
