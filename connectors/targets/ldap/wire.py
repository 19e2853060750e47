"""The LDAP side of the driver: one bound connection, its requests and paged searches,
and LDAP results (RFC 4511 §4.1.9) as the typed errors of `connectors.base`.

`Wire(config, password)` opens nothing yet (a ConfigurationError when `ca_file` is not
a file it can read). The first request connects
(`Server(host, port=port)`, LDAPS for an `ldaps://` URL, the certificate checked unless
`verify: false`, against `ca_file` when the config names one) and binds as `bind_dn`; the connection is kept until `close()`, or
until a transport failure drops it (the next request then opens a new one). Requests
go one at a time (ldap3's connection holds the last result).

Errors:
- busy (51) and unavailable (52): Retryable, the server did not act (`maybe_applied`
  False); time limit (3) and "other" (80): Retryable, maybe applied;
- a dropped connection or a timeout: Retryable, maybe applied; a bind that cannot
  connect: Retryable, not applied (nothing was sent);
- noSuchObject: NotFound; entryAlreadyExists and constraintViolation: Conflict;
- anything else (invalid credentials, insufficient access, schema violations): Permanent.
Messages carry the target's name, what was done, the result code and the server's
words, never the password or the values sent.
"""

from __future__ import annotations

import math
import ssl
import threading
import uuid
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

import ldap3
from ldap3.core import exceptions as ldap_errors
from ldap3.protocol.rfc4527 import post_read_control

from connectors.base import ConfigurationError, Conflict, NotFound, Permanent, Retryable, TargetError
from connectors.targets.ldap.entries import Found
from jml.config import AdTarget, LdapTarget
from jml.dn import render_dn

__all__ = [
    "ATTRIBUTE_OR_VALUE_EXISTS",
    "ENTRY_ALREADY_EXISTS",
    "NO_SUCH_ATTRIBUTE",
    "NO_SUCH_OBJECT",
    "OBJECT_CLASS_VIOLATION",
    "POST_READ",
    "SUCCESS",
    "UNWILLING_TO_PERFORM",
    "Wire",
    "code_of",
    "post_read",
]

# LDAP result codes (RFC 4511 §4.1.9, Appendix A) the driver tells apart.
SUCCESS = 0
TIME_LIMIT_EXCEEDED = 3
NO_SUCH_ATTRIBUTE = 16
CONSTRAINT_VIOLATION = 19
ATTRIBUTE_OR_VALUE_EXISTS = 20
NO_SUCH_OBJECT = 32
BUSY = 51
UNAVAILABLE = 52
UNWILLING_TO_PERFORM = 53
OBJECT_CLASS_VIOLATION = 65
ENTRY_ALREADY_EXISTS = 68
OTHER = 80
RETRYABLE_CODES = frozenset({TIME_LIMIT_EXCEEDED, BUSY, UNAVAILABLE, OTHER})
NOT_APPLIED_CODES = frozenset({BUSY, UNAVAILABLE})
CONFLICT_CODES = frozenset({ENTRY_ALREADY_EXISTS, CONSTRAINT_VIOLATION})

PAGED_RESULTS = "1.2.840.113556.1.4.319"  # RFC 2696 control OID
POST_READ_OID = "1.3.6.1.1.13.2"
#: RFC 4527 Post-Read control asking for the entryUUID of what an add created; not
#: critical, so a server without it simply adds.
POST_READ = post_read_control(["entryUUID"], criticality=False)

_TRANSPORT_ERRORS = (
    ldap_errors.LDAPCommunicationError,
    ldap_errors.LDAPSocketOpenError,
    ldap_errors.LDAPSessionTerminatedByServerError,
    ldap_errors.LDAPResponseTimeoutError,
)


class Wire:
    """The bound connection of one LDAP target; see the module docstring."""

    def __init__(self, config: LdapTarget | AdTarget, password: str) -> None:
        url = urlsplit(config.url)
        secure = url.scheme == "ldaps"
        try:
            tls = ldap3.Tls(
                validate=ssl.CERT_REQUIRED if config.verify else ssl.CERT_NONE,
                ca_certs_file=str(config.ca_file) if config.ca_file is not None else None,
            )
        except ldap_errors.LDAPSSLConfigurationError:
            raise ConfigurationError(f"target {config.name}: ca_file {config.ca_file}: no such file") from None
        self.name = config.name
        self._config = config
        self._server = ldap3.Server(
            url.hostname or "localhost",
            port=url.port or (636 if secure else 389),
            use_ssl=secure,
            tls=tls if secure else None,
            get_info=ldap3.NONE,
            connect_timeout=_seconds(config.timeout),
        )
        self._password = password
        self._connection: ldap3.Connection | None = None
        self._lock = threading.RLock()

    def __repr__(self) -> str:
        return f"Wire(name={self.name!r}, url={self._config.url!r})"

    def close(self) -> None:
        """Unbind and close the connection, if one is open."""
        with self._lock:
            self._drop()

    def send(self, what: str, method: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
        """One LDAP request (`add`, `modify`, `delete`, `modify_dn`) and its result.
        A transport failure is raised as Retryable; a result is returned as it is."""
        with self._lock:
            connection = self._bound()
            try:
                getattr(connection, method)(*args, **kwargs)
            except ldap_errors.LDAPException as exc:
                raise self._transport_error(what, exc) from exc
            return dict(connection.result or {})

    def do(self, what: str, method: str, *args: Any, ok: Iterable[int] = (), **kwargs: Any) -> int:
        """`send`, raising the typed error unless the result is success or in `ok`;
        returns the result code."""
        result = self.send(what, method, *args, **kwargs)
        code = code_of(result)
        if code != SUCCESS and code not in ok:
            raise self.error(what, result)
        return code

    def search(self, base: str, wanted: str, attributes: list[str], *, scope: str = ldap3.LEVEL) -> list[Found]:
        """The entries one level under `base` (or `scope`: ldap3.SUBTREE, ldap3.BASE)
        matching the filter `wanted`, paged (RFC 2696 Simple Paged Results, `page_size`
        a page); the root DSE (base "") has the DN "". Permanent when `base` does not exist. An `objectGUID` (AD) is read as
        its GUID's text."""
        found: list[Found] = []
        cookie: bytes | None = None
        while True:
            with self._lock:
                connection = self._bound()
                try:
                    connection.search(
                        base,
                        wanted,
                        search_scope=scope,
                        attributes=attributes,
                        paged_size=self._config.page_size,
                        paged_cookie=cookie,
                    )
                except ldap_errors.LDAPException as exc:
                    raise self._transport_error(f"search {base}", exc) from exc
                result = dict(connection.result or {})
                page = list(connection.response or ())
            code = code_of(result)
            if code == NO_SUCH_OBJECT:
                raise Permanent(f"{self.name}: {base} does not exist in the directory")
            if code != SUCCESS:
                raise self.error(f"search {base}", result)
            found += [
                (render_dn(item["dn"]) if item["dn"] else "", _decoded(item.get("raw_attributes") or {}))
                for item in page
                if item.get("type") == "searchResEntry"
            ]
            controls = result.get("controls") or {}
            cookie = ((controls.get(PAGED_RESULTS) or {}).get("value") or {}).get("cookie")
            if not cookie:
                return found

    def error(self, what: str, result: Mapping[str, Any] | None) -> TargetError:
        """The typed error of an LDAP result, with the server's words."""
        result = result or {}
        code = code_of(result)
        words = " ".join(str(result.get("message") or "").split())
        message = f"{self.name}: {what}: LDAP {code} {result.get('description', '')}".rstrip()
        message += f": {words}" if words else ""
        if code in RETRYABLE_CODES:
            return Retryable(message, status=code, maybe_applied=code not in NOT_APPLIED_CODES)
        if code == NO_SUCH_OBJECT:
            return NotFound(message, status=code)
        if code in CONFLICT_CODES:
            return Conflict(message, status=code)
        return Permanent(message, status=code)

    # -- the connection --------------------------------------------------------------

    def _bound(self) -> ldap3.Connection:
        """The bound connection, opened on first use (the caller holds the lock)."""
        if self._connection is not None and not self._connection.closed:
            return self._connection
        connection = ldap3.Connection(
            self._server,
            user=self._config.bind_dn,
            password=self._password,
            raise_exceptions=False,
            receive_timeout=_seconds(self._config.timeout),
            auto_referrals=False,
        )
        try:
            bound = connection.bind()
        except ldap_errors.LDAPException as exc:
            raise self._transport_error("bind", exc, sent=False) from exc
        if not bound:
            raise self.error("bind", connection.result)
        self._connection = connection
        return connection

    def _transport_error(self, what: str, exc: ldap_errors.LDAPException, *, sent: bool = True) -> TargetError:
        """ldap3 raised: a socket or timeout problem is Retryable (the connection is
        dropped; `sent`: the request may have been applied); anything else Permanent."""
        if isinstance(exc, _TRANSPORT_ERRORS):
            self._drop()
            return Retryable(f"{self.name}: {what}: {type(exc).__name__}: {exc}", maybe_applied=sent)
        return Permanent(f"{self.name}: {what}: {type(exc).__name__}: {exc}")

    def _drop(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                connection.unbind()
            except ldap_errors.LDAPException:
                pass


def code_of(result: Mapping[str, Any] | None) -> int:
    """The result code of an LDAP result ("other" when it has none)."""
    return int((result or {}).get("result", OTHER))


def post_read(result: Mapping[str, Any], attribute: str) -> str | None:
    """The value of `attribute` in the Post-Read control of a result, if any."""
    control = (result.get("controls") or {}).get(POST_READ_OID) or {}
    values = (control.get("value") or {}).get("result") or {}
    for name, value in values.items():
        if name.lower() == attribute.lower():
            if isinstance(value, list | tuple):
                value = value[0] if value else None
            if isinstance(value, bytes):
                value = value.decode("ascii", errors="replace")
            return None if value is None else str(value)
    return None


def _seconds(timeout: float) -> int:
    """ldap3 packs socket timeouts as whole seconds."""
    return max(1, math.ceil(timeout))


def _decoded(raw: Mapping[str, Iterable[bytes]]) -> dict[str, list[str]]:
    """Raw attribute values as text, attribute names as the server spelled them; an
    objectGUID as its GUID's text (AD's little-endian layout)."""
    return {
        name: [
            str(uuid.UUID(bytes_le=value)) if name.lower() == "objectguid" and len(value) == 16
            else value.decode("utf-8", errors="replace")
            for value in values
        ]
        for name, values in raw.items()
    }  # fmt: skip
