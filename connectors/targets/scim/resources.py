"""SCIM resources and requests, built and read without I/O (RFC 7643, RFC 7644).

Mapping of the canonical account (jml.model.ACCOUNT_ATTRIBUTES) to a SCIM User:

    user_name        userName                 (sent as given: the plan holds the
                                               lowercased email already)
    given_name       name.givenName
    family_name      name.familyName
    display_name     displayName
    email            emails = [{value, type: "work", primary: true}]
    title            title
    employee_number  enterprise:employeeNumber
    department       enterprise:department
    manager          enterprise:manager.value = the manager's SCIM id
    (the link)       externalId = the employee_id
    (active)         active

Any other key of the values is a mapped attribute (config `attributes`), written and
read at its SCIM path (`connectors.targets.scim.paths`).

Builders take ids, never look them up: every request is a `Request` value the client
sends as it is. In the values a builder takes, `manager` is the manager's SCIM id, or
`bulkId:<id>` for a manager created earlier in the same Bulk request.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from connectors.targets.scim import paths
from jml.config.attributes import scim_path
from jml.model import ACCOUNT_ATTRIBUTES, Account

__all__ = [
    "ENTERPRISE_SCHEMA",
    "Request",
    "account_from_user",
    "any_of",
    "create_group",
    "create_user",
    "delete_user",
    "find_group",
    "find_users",
    "get_group",
    "get_user",
    "list_page",
    "manager_id_of",
    "patch_members",
    "patch_user",
    "schemas",
    "scim_filter_string",
    "set_active",
]

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE_SCHEMA = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"

# The success statuses each request accepts; anything else is an error.
OK_DISCOVERY = frozenset({200})  # RFC 7644 §4: GET /ServiceProviderConfig
OK_READ = frozenset({200})  # RFC 7644 §3.4.1: GET of one resource
OK_SEARCH = frozenset({200})  # RFC 7644 §3.4.2: a ListResponse, even when empty
OK_CREATE = frozenset({200, 201})  # RFC 7644 §3.3: 201 Created (some servers say 200)
OK_PATCH = frozenset({200, 204})  # RFC 7644 §3.5.2: 200 with the resource, or 204
OK_DELETE = frozenset({200, 204})  # RFC 7644 §3.6: 204 No Content

#: Canonical attribute (or the link) -> its PATCH path.
PATCH_PATHS = {
    "user_name": "userName",
    "given_name": "name.givenName",
    "family_name": "name.familyName",
    "display_name": "displayName",
    "email": "emails",
    "title": "title",
    "employee_number": f"{ENTERPRISE_SCHEMA}:employeeNumber",
    "department": f"{ENTERPRISE_SCHEMA}:department",
    "manager": f"{ENTERPRISE_SCHEMA}:manager",
}


@dataclass(frozen=True, slots=True)
class Request:
    """One SCIM request: `path` relative to the base URL, the statuses that mean
    success, a JSON body and query parameters."""

    method: str
    path: str
    ok: frozenset[int]
    body: Any = None
    params: Mapping[str, Any] | None = None

    @property
    def what(self) -> str:
        """How messages name it: the method and the endpoint (no ids, no values)."""
        return f"{self.method} {self.path.split('/', 1)[0]}"


def scim_filter_string(value: str) -> str:
    """`value` as a SCIM filter string literal, double quotes included.

    RFC 7644 §3.4.2.2 compares attributes with JSON string values: a backslash and a
    double quote are escaped with a backslash (control characters as JSON escapes), so
    the value can never end the literal early and inject filter syntax:
    `O"Brien` -> `"O\\"Brien"`.
    """
    return json.dumps(value, ensure_ascii=False)


# -- requests ----------------------------------------------------------------------------


#: The members one "remove" of a group's PATCH names at most (`patch_members`).
REMOVALS_PER_OPERATION = 100


def list_page(endpoint: str, start: int, count: int, where: str | None = None) -> Request:
    """One page of an endpoint, by index (RFC 7644 §3.4.2.4); only the resources
    matching the filter `where` (built by `any_of`) when one is given."""
    params: dict[str, Any] = {"startIndex": start, "count": count}
    if where is not None:
        params["filter"] = where
    return Request("GET", endpoint, OK_SEARCH, params=params)


def any_of(attribute: str, values: Iterable[str]) -> str:
    """The filter `attribute eq "v1" or attribute eq "v2" ...`, every value quoted
    (`scim_filter_string`)."""
    return " or ".join(f"{attribute} eq {scim_filter_string(value)}" for value in values)


def schemas() -> Request:
    """The schemas the server publishes (RFC 7644 §4: GET /Schemas, a ListResponse)."""
    return Request("GET", "Schemas", OK_DISCOVERY)


def find_users(employee_ids: Sequence[str]) -> Request:
    """The users whose externalId is one of `employee_ids` (one filter query)."""
    query = any_of("externalId", employee_ids)
    return Request("GET", "Users", OK_SEARCH, params={"filter": query, "count": 2 * len(employee_ids)})


def find_group(name: str) -> Request:
    """The groups of that displayName."""
    return Request("GET", "Groups", OK_SEARCH, params={"filter": f"displayName eq {scim_filter_string(name)}", "count": 10})


def create_user(employee_id: str, values: Mapping[str, Any], active: bool) -> Request:
    """POST of a new User linked to `employee_id`."""
    return Request("POST", "Users", OK_CREATE, user_resource(values, external_id=employee_id, active=active))


def patch_user(account_id: str, values: Mapping[str, Any], link: str | None) -> Request | None:
    """PATCH replacing (or, for None, removing) these attributes, and with `link` the
    externalId; None when there is nothing to change. ValueError for an attribute that
    has no SCIM path."""
    operations: list[dict[str, Any]] = []
    for attribute, new in values.items():
        path = PATCH_PATHS.get(attribute) or _mapped_path(attribute)
        if new is None:
            operations.append({"op": "remove", "path": path})
            continue
        value: Any = {"value": new} if attribute == "manager" else [_work_email(new)] if attribute == "email" else new
        operations.append({"op": "replace", "path": path, "value": value})
    if link is not None:
        operations.append({"op": "replace", "path": "externalId", "value": link})
    if not operations:
        return None
    return _patch(f"Users/{_quoted(account_id)}", operations)


def _mapped_path(attribute: str) -> str:
    """The PATCH path of a mapped attribute: its key (ValueError when it is none)."""
    try:
        scim_path(attribute)
    except ValueError:
        raise ValueError(f"cannot update unknown attribute {attribute!r}") from None
    return attribute


def set_active(account_id: str, active: bool) -> Request:
    return _patch(f"Users/{_quoted(account_id)}", [{"op": "replace", "path": "active", "value": active}])


def get_user(account_id: str) -> Request:
    """The User of this id."""
    return Request("GET", f"Users/{_quoted(account_id)}", OK_READ)


def get_group(group_id: str) -> Request:
    """The Group of this id."""
    return Request("GET", f"Groups/{_quoted(group_id)}", OK_READ)


def delete_user(account_id: str) -> Request:
    return Request("DELETE", f"Users/{_quoted(account_id)}", OK_DELETE)


def create_group(name: str, member_ids: Iterable[str]) -> Request:
    body = {"schemas": [GROUP_SCHEMA], "displayName": name, "members": [{"value": m} for m in member_ids]}
    return Request("POST", "Groups", OK_CREATE, body)


def patch_members(group_id: str, changes: Iterable[tuple[bool, str]]) -> Request:
    """PATCH of `members` (RFC 7644 §3.5.2), the changes in order: consecutive additions
    become one "add" with several values, consecutive removals one "remove" whose value
    filter names up to REMOVALS_PER_OPERATION of them (`members[value eq "a" or value eq
    "b"]`). A server may pay for the whole group on each operation: scim2-server took
    12.4 s to remove 140 members of a 2,858-member group one operation each, 3.6 s in
    one."""
    runs: list[tuple[bool, list[str]]] = []  # (add?, account ids), in order
    for add, account_id in changes:
        if runs and runs[-1][0] == add and (add or len(runs[-1][1]) < REMOVALS_PER_OPERATION):
            runs[-1][1].append(account_id)
        else:
            runs.append((add, [account_id]))
    operations = [
        {"op": "add", "path": "members", "value": [{"value": m} for m in ids]}
        if add
        else {"op": "remove", "path": f"members[{any_of('value', ids)}]"}
        for add, ids in runs
    ]
    return _patch(f"Groups/{_quoted(group_id)}", operations)


def _patch(path: str, operations: list[dict]) -> Request:
    return Request("PATCH", path, OK_PATCH, {"schemas": [PATCH_SCHEMA], "Operations": operations})


def _quoted(account_id: str) -> str:
    return quote(account_id, safe="")


# -- resources ---------------------------------------------------------------------------


def user_resource(values: Mapping[str, Any], *, external_id: str, active: bool) -> dict:
    """The SCIM User (RFC 7643 §4.1, §4.3) of canonical and mapped values; None values
    are left out."""

    def value(key: str) -> str | None:
        item = values.get(key)
        return None if item is None else str(item)

    user: dict[str, Any] = {"schemas": [USER_SCHEMA], "externalId": external_id}
    if value("user_name") is not None:
        user["userName"] = value("user_name")
    name = {key: value(c) for key, c in (("givenName", "given_name"), ("familyName", "family_name")) if value(c) is not None}
    if name:
        user["name"] = name
    if value("display_name") is not None:
        user["displayName"] = value("display_name")
    if value("title") is not None:
        user["title"] = value("title")
    user["active"] = active
    if value("email") is not None:
        user["emails"] = [_work_email(value("email"))]
    enterprise: dict[str, Any] = {
        key: value(c) for key, c in (("employeeNumber", "employee_number"), ("department", "department")) if value(c) is not None
    }
    if value("manager") is not None:
        enterprise["manager"] = {"value": value("manager")}
    if enterprise:
        user["schemas"].append(ENTERPRISE_SCHEMA)
        user[ENTERPRISE_SCHEMA] = enterprise
    for key in sorted(values.keys() - PATCH_PATHS.keys()):
        if value(key) is not None:
            paths.put(user, key, str(value(key)))
    return user


def account_from_user(
    user: Mapping[str, Any],
    external_of: Mapping[str, str | None],
    entitlements: set[str],
    mapped: Iterable[str] = (),
) -> Account:
    """The Account of a SCIM User; `manager` becomes the manager's externalId; the
    `mapped` attributes are read at their paths."""
    name = _object(user.get("name"))
    enterprise = _object(user.get(ENTERPRISE_SCHEMA))
    manager_id = manager_id_of(user)
    attributes: dict[str, str | None] = dict.fromkeys(ACCOUNT_ATTRIBUTES)
    attributes.update(
        user_name=text(user.get("userName")),
        given_name=text(name.get("givenName")),
        family_name=text(name.get("familyName")),
        display_name=text(user.get("displayName")),
        email=_primary_email(user.get("emails")),
        title=text(user.get("title")),
        employee_number=text(enterprise.get("employeeNumber")),
        department=text(enterprise.get("department")),
        manager=external_of.get(manager_id) if manager_id is not None else None,
    )
    attributes.update({key: paths.read(user, key) for key in mapped})
    active = user.get("active")
    return Account(
        id=str(user["id"]),
        external_id=text(user.get("externalId")),
        # RFC 7643 §4.1.1 gives `active` no default; absent is taken as active, so
        # that a person who must lose access gets an explicit disable.
        active=True if active is None else bool(active),
        attributes=attributes,
        entitlements=set(entitlements),
    )


def manager_id_of(user: Mapping[str, Any]) -> str | None:
    """The SCIM id of a User's manager (enterprise extension), None when it has none."""
    manager = _object(user.get(ENTERPRISE_SCHEMA)).get("manager")
    return text(manager.get("value")) if isinstance(manager, dict) else None


def text(value: object) -> str | None:
    """A JSON value as text (None stays None)."""
    return None if value is None else str(value)


def _object(value: object) -> Mapping[str, Any]:
    """A JSON object, or an empty one for anything else."""
    return value if isinstance(value, dict) else {}


def _work_email(value: object) -> dict:
    return {"value": str(value), "type": "work", "primary": True}


def _primary_email(emails: object) -> str | None:
    if not isinstance(emails, list):
        return None
    entries = [entry for entry in emails if isinstance(entry, dict) and entry.get("value")]
    primary = next((entry for entry in entries if entry.get("primary") is True), None)
    chosen = primary or (entries[0] if entries else None)
    return text(chosen["value"]) if chosen else None
