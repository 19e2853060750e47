"""The policy file (bundles, rules, SoD) and the engine that turns a person into
entitlements per target, each with the reason that produced it.

Order of evaluation for one person:
1. every rule whose `when` matches gives its bundles (the first matching rule is the
   reason recorded);
2. SoD: bundles that a `sod` entry pairs with another matched bundle are *frozen*: not
   newly granted, but what the person already holds of them stays; an `sod` issue;
3. a `risk: high` bundle is granted only once every approver role approved it; until
   then an `approval` issue is open; rejected means not granted.

Who may approve: `roles` gives each approver role a roster of employee_ids (the built-in
role `manager` is the person's current manager and has none). With `roles`, every role
a bundle lists must have a roster or be `manager`; `Policy.rosters` is what the approval
rules check decisions against (None: free approver names).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from jml.approvals import MANAGER, Rosters
from jml.config import ConfigError, describe_validation_error, read_yaml
from jml.model import HrRecord, Issue, IssueKind

APPROVED, REJECTED = "approved", "rejected"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Bundle(_Strict):
    grants: dict[str, list[str]] = Field(min_length=1)
    risk: Literal["low", "high"] = "low"
    approvers: list[str] = []

    @model_validator(mode="after")
    def _high_risk_needs_approvers(self) -> Bundle:
        if self.risk == "high" and not self.approvers:
            raise ValueError("a risk: high bundle needs at least one approver role")
        return self


class Rule(_Strict):
    name: str | None = None
    when: dict[str, list[str]] = Field(min_length=1)
    grant: list[str] = Field(min_length=1)


class SodRule(_Strict):
    name: str
    bundles: list[str] = Field(min_length=2)


EmployeeId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")]


class Policy(_Strict):
    bundles: dict[str, Bundle]
    rules: list[Rule]
    sod: list[SodRule] = []
    roles: dict[str, Annotated[list[EmployeeId], Field(min_length=1)]] | None = None

    @model_validator(mode="after")
    def _references_exist(self) -> Policy:
        for i, rule in enumerate(self.rules):
            for bundle in rule.grant:
                if bundle not in self.bundles:
                    raise ValueError(f"rules[{i}] grants unknown bundle {bundle!r}")
        for entry in self.sod:
            for bundle in entry.bundles:
                if bundle not in self.bundles:
                    raise ValueError(f"sod {entry.name!r} names unknown bundle {bundle!r}")
        if self.roles is not None:
            if MANAGER in self.roles:
                raise ValueError(f"roles.{MANAGER}: the built-in role {MANAGER} is the person's manager, it has no roster")
            for name, listed in self.bundles.items():
                for role in listed.approvers:
                    if role != MANAGER and role not in self.roles:
                        raise ValueError(f"bundles.{name}.approvers: role {role!r} has no roster in roles")
        return self

    def rosters(self) -> Rosters | None:
        """The rosters approvals are checked against; None when the policy has no `roles`."""
        return None if self.roles is None else Rosters(self.roles)

    def approver_roles(self) -> set[str]:
        """Every role some bundle lists as an approver."""
        return {role for bundle in self.bundles.values() for role in bundle.approvers}

    def managed(self, target: str) -> set[str]:
        """Every entitlement some bundle grants on `target`: the ones jml manages there."""
        return {e for b in self.bundles.values() for e in b.grants.get(target, [])}


def load_policy(path: Path, targets: set[str]) -> Policy:
    """Read and check the policy file; bundles may only name configured targets."""
    data = read_yaml(path, "policy")
    try:
        policy = Policy.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(path, exc)) from None
    for name, bundle in policy.bundles.items():
        unknown = sorted(set(bundle.grants) - targets)
        if unknown:
            raise ConfigError(
                f"{path}: bundles.{name}.grants: unknown target {unknown[0]!r}"
                f" (configured: {', '.join(sorted(targets))})"
            )
    return policy


@dataclass(slots=True)
class Entitlements:
    """What policy gives one person: target -> entitlement -> reason, and the issues."""

    grants: dict[str, dict[str, str]] = field(default_factory=dict)
    issues: list[Issue] = field(default_factory=list)


def approval_key(employee_id: str, bundle: str) -> str:
    """The exception key of one person's approval request for one bundle."""
    return f"approval:{employee_id}:{bundle}"


#: Distinct combinations of the rules' attribute values whose match is kept, at most.
MATCHED_KEPT = 100_000


class PolicyEngine:
    """Evaluates a Policy for many people; build once per run."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self._rules = [
            (
                rule.name or f"rules[{i}]",
                [(attr, frozenset(values)) for attr, values in rule.when.items()],
                rule.grant,
            )
            for i, rule in enumerate(policy.rules)
        ]
        self._attributes = tuple(dict.fromkeys(attr for _, conditions, _ in self._rules for attr, _ in conditions))
        #: The attributes' values -> the bundles they match: people who share them
        #: (a department, a job) are matched once.
        self._matched: dict[tuple, dict[str, str]] = {}

    def matched_bundles(self, record: HrRecord) -> dict[str, str]:
        """Bundle -> the label of the first rule that gives it (a function of the
        attributes the rules name, and only of them)."""
        key = tuple(record.attribute(attr) for attr in self._attributes)
        known = self._matched.get(key)
        if known is None:
            known = {}
            for label, conditions, bundles in self._rules:
                if all(record.attribute(attr) in values for attr, values in conditions):
                    for bundle in bundles:
                        known.setdefault(bundle, label)
            if len(self._matched) < MATCHED_KEPT:
                self._matched[key] = known
        return dict(known)

    def entitle(
        self,
        record: HrRecord,
        *,
        decisions: Mapping[str, str],
        held: Mapping[str, set[str]],
    ) -> Entitlements:
        """The entitlements policy gives `record` now.

        `decisions` maps approval keys to "approved"/"rejected"; `held` is what the
        person holds today per target (SoD keeps it). Issues: one `sod` per conflicting
        SoD entry, one `approval` per matched high-risk bundle not frozen by SoD (decided
        ones too, so the ledger keeps their decision while the need lasts).
        """
        eid = record.employee_id
        result = Entitlements()
        matched = self.matched_bundles(record)
        frozen: set[str] = set()
        for entry in self.policy.sod:
            clash = [b for b in entry.bundles if b in matched]
            if len(clash) > 1:
                frozen.update(clash)
                result.issues.append(
                    Issue(
                        IssueKind.SOD,
                        f"sod:{eid}:{entry.name}",
                        f"{eid}: rules give bundles {', '.join(clash)}, which SoD rule"
                        f" {entry.name} keeps apart; neither is newly granted",
                        employee_id=eid,
                        data={"sod": entry.name, "bundles": clash},
                    )
                )
        for bundle_name, rule in matched.items():
            bundle = self.policy.bundles[bundle_name]
            reason = f"rule {rule} -> bundle {bundle_name}"
            if bundle_name in frozen:
                self._keep_held(result, bundle, held, f"{reason} (held; SoD conflict)")
                continue
            if bundle.risk == "high":
                key = approval_key(eid, bundle_name)
                decision = decisions.get(key)
                result.issues.append(
                    Issue(
                        IssueKind.APPROVAL,
                        key,
                        f"{eid}: bundle {bundle_name} (rule {rule}) needs approval by {', '.join(bundle.approvers)}",
                        employee_id=eid,
                        data={"bundle": bundle_name, "rule": rule, "approvers": bundle.approvers},
                    )
                )
                if decision != APPROVED:
                    continue
                reason += " (approved)"
            for target, names in bundle.grants.items():
                granted = result.grants.setdefault(target, {})
                for name in names:
                    granted.setdefault(name, reason)
        return result

    @staticmethod
    def _keep_held(result: Entitlements, bundle: Bundle, held: Mapping[str, set[str]], reason: str) -> None:
        for target, names in bundle.grants.items():
            have = held.get(target, set())
            for name in names:
                if name in have:
                    result.grants.setdefault(target, {}).setdefault(name, reason)
