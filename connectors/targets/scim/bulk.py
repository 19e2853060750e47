"""SCIM Bulk (RFC 7644 §3.7): many account operations in one POST /Bulk.

`ScimBulk` is the kernel's `Bulk` capability for a server that advertises Bulk: it
sizes one operation (an upper bound, for the advertised maxPayloadSize) and sends a
run of account operations, each with the bulkId `op<position>`, so that a create can
name a manager created earlier in the same request as `bulkId:op<position>`. Each
result is matched by bulkId (else by position) and typed like a single request's
answer; a DELETE answered 404 is done (the account is gone already).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import unquote, urlsplit

from connectors.base import Permanent, Retryable, TargetError
from connectors.http import error_for_status
from connectors.kernel.driver import BulkItem, BulkRef, Handle
from connectors.targets.scim.client import Capabilities, ScimClient, dumps, error_detail
from connectors.targets.scim.resources import Request
from jml.operations import Create, Operation, Update

__all__ = ["ScimBulk"]

BULK_REQUEST_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
OK_BULK = frozenset({200})  # RFC 7644 §3.7.3: 200 with one result per operation
#: Stands for an id not known yet when the size of an operation is estimated.
PLACEHOLDER = "x" * 64


class ScimBulk:
    """The Bulk capability of one SCIM server (see the module docstring).

    `request_for(operation, handle, values)` is the driver's builder of the single
    request an account operation needs (None: nothing to send).
    """

    def __init__(
        self,
        client: ScimClient,
        capabilities: Capabilities,
        request_for: Callable[[Operation, Handle | None, Mapping[str, Any]], Request | None],
    ) -> None:
        self.max_operations = capabilities.max_operations
        self.max_payload = capabilities.max_payload
        self._client = client
        self._request_for = request_for

    def bulk_size(self, operation: Operation) -> int:
        """An upper bound of the bytes the operation adds (ids as placeholders)."""
        values: dict[str, Any] = {}
        if isinstance(operation, Create):
            values = dict(operation.attributes)
        elif isinstance(operation, Update):
            values = operation.new_values()
        if values.get("manager") not in (None, ""):
            values["manager"] = PLACEHOLDER
        try:
            request = self._request_for(operation, PLACEHOLDER, values)
        except TargetError:  # a bad operation fails when it runs
            return 0
        return len(dumps(_operation(request, "op0000"))) if request is not None else 0

    def send_bulk(self, items: Sequence[BulkItem]) -> list[Handle | TargetError]:
        """One POST /Bulk for the items; per item its handle or its typed error."""
        requests = []
        for position, item in enumerate(items):
            values = dict(item.values)
            if isinstance(values.get("manager"), BulkRef):
                values["manager"] = f"bulkId:op{values['manager'].position}"
            request = self._request_for(item.operation, item.handle, values)
            if request is None:
                raise Permanent(f"{self._client.name}: bulk: operation {position} has nothing to send")
            requests.append(request)
        payload = {
            "schemas": [BULK_REQUEST_SCHEMA],
            "Operations": [_operation(request, f"op{position}") for position, request in enumerate(requests)],
        }
        body = self._client.json(Request("POST", "Bulk", OK_BULK, payload))
        results = _match(len(requests), body.get("Operations"))
        return [_outcome(self._client.name, item, request, result) for item, request, result in zip(items, requests, results, strict=True)]


def _operation(request: Request, bulk_id: str) -> dict:
    """A request as one operation of a Bulk request (RFC 7644 §3.7)."""
    operation: dict[str, Any] = {"method": request.method, "path": f"/{request.path}", "bulkId": bulk_id}
    if request.body is not None:
        operation["data"] = request.body
    return operation


def _match(count: int, results: object) -> list[dict | None]:
    """The result of each operation sent, by bulkId, else by position (RFC 7644 §3.7.3)."""
    bulk_ids = [f"op{position}" for position in range(count)]
    items = [item for item in results if isinstance(item, dict)] if isinstance(results, list) else []
    by_id = {item["bulkId"]: item for item in items if isinstance(item.get("bulkId"), str)}
    if all(bulk_id in by_id for bulk_id in bulk_ids):
        return [by_id[bulk_id] for bulk_id in bulk_ids]
    if len(items) == count:
        return [by_id.get(bulk_id, item) for bulk_id, item in zip(bulk_ids, items, strict=True)]
    return [by_id.get(bulk_id) for bulk_id in bulk_ids]


def _outcome(target: str, item: BulkItem, request: Request, result: dict | None) -> Handle | TargetError:
    what = f"{target}: bulk {request.what}"
    if result is None:
        return Retryable(f"{what}: no result in the bulk response")
    try:
        status = int(result.get("status") or "")
    except ValueError:
        return Permanent(f"{what}: bulk result without a status")
    if 200 <= status < 300:
        if request.method != "POST":
            return item.handle
        created = _created_id(result)
        return created if created is not None else Permanent(f"{what}: no location for the created user")
    if status == 404 and request.method == "DELETE":
        return item.handle  # already gone: done
    return error_for_status(what, status, error_detail(result.get("response")))


def _created_id(result: Mapping[str, Any]) -> str | None:
    """The id of a user a bulk POST created: its `response.id`, else the last segment
    of its `location`."""
    response = result.get("response")
    if isinstance(response, dict) and response.get("id"):
        return str(response["id"])
    location = result.get("location")
    if isinstance(location, str) and location.strip("/"):
        return unquote(urlsplit(location).path.rstrip("/").rsplit("/", 1)[-1]) or None
    return None
