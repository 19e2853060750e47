"""Who works an exception (SPEC "Owners, and where exceptions go"). Pure: no database,
no I/O.

An owner is a name (`iam`, `hr-data`, `app-admins`) or, when several share the work,
their names joined by commas in a stable order (`hr,business-owner`). `Owners.of(issue)`
gives the owner of an issue when its exception opens:

- `quarantine`, `duplicate`, `data_quality`, `absent`: the owner of the issue's source.
  A quarantine names its source (`data["source"]`); a duplicate and a data_quality
  issue name the sources holding the person (`data["sources"]`: for a duplicate, per
  employee_id); those sources' owners, each once, in the config's source order. An
  `absent` person is missing from every source, so it goes to every source's owner.
- `approval`: the approver roles that have not decided (`pending`: by default all the
  roles the bundle lists, `data["approvers"]`), in the bundle's order; a partly approved
  exception belongs to the roles still waited for (`approval_owner`).
- `conflict`, `failed_operation`, `drift`, `orphan`: the owner of the issue's target.
- `nhi_review`: the NHI's current owner, an employee_id (`data["owner"]`).
- everything else (`sod`, `safety_halt`, ...), and a source or target the config does
  not know, or an approval listing no role: `default`.

`owns(owner, name)` says whether `name` is one of an owner's names (how
`jml exceptions --owner NAME` matches).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from jml.model import Issue, IssueKind

#: The owner of what has no other owner when the config names none.
DEFAULT_OWNER = "iam"
SEPARATOR = ","

SOURCE_KINDS = frozenset({IssueKind.QUARANTINE, IssueKind.DUPLICATE, IssueKind.DATA_QUALITY, IssueKind.ABSENT})
TARGET_KINDS = frozenset({IssueKind.CONFLICT, IssueKind.FAILED_OPERATION, IssueKind.DRIFT, IssueKind.ORPHAN})


def joined(names: Iterable[str]) -> str:
    """Several owners as one: each name once, in the order given."""
    return SEPARATOR.join(dict.fromkeys(names))


def owns(owner: str | None, name: str) -> bool:
    """Whether `name` is one of the names of `owner` (a name or names joined by commas)."""
    return name in (owner or "").split(SEPARATOR)


def approval_owner(waiting: Iterable[str], default: str) -> str:
    """The owner of an approval waiting for these roles (`default` when it waits for none)."""
    return joined(waiting) or default


@dataclass(frozen=True, slots=True)
class Owners:
    """The owners the config gives: `default`, and source and target name -> owner (in
    the config's order)."""

    default: str = DEFAULT_OWNER
    sources: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    targets: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def of(self, issue: Issue) -> str:
        """The owner of `issue` when its exception opens (see the module docstring)."""
        kind = IssueKind(issue.kind)
        data = issue.data or {}
        if kind in SOURCE_KINDS:
            return self._of_sources(_sources_named(kind, issue.employee_id, data))
        if kind is IssueKind.APPROVAL:
            return approval_owner((str(role) for role in data.get("approvers") or ()), self.default)
        if kind in TARGET_KINDS:
            return self.targets.get(issue.target or "", self.default)
        if kind is IssueKind.NHI_REVIEW and data.get("owner"):
            return str(data["owner"])
        return self.default

    def _of_sources(self, named: set[str] | None) -> str:
        """The owners of the sources named (None: every source), in config order."""
        owners = [owner for source, owner in self.sources.items() if named is None or source in named]
        return joined(owners) or self.default


def _sources_named(kind: IssueKind, employee_id: str | None, data: Mapping[str, Any]) -> set[str] | None:
    """The sources an issue of a source kind names; None for every source (`absent`)."""
    if kind is IssueKind.ABSENT:
        return None
    if kind is IssueKind.QUARANTINE:
        return {str(data.get("source"))}
    sources = data.get("sources") or ()
    if kind is IssueKind.DUPLICATE and isinstance(sources, Mapping):
        sources = sources.get(employee_id or "") or ()
    return {str(source) for source in sources}


#: The rule without a config: every exception is `iam`'s.
EVERYONE_DEFAULT = Owners()
