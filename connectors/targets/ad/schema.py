"""What an AD `user` object holds for jml, and how its values are written. Pure: no I/O.

Mapping of the canonical account (jml.model.ACCOUNT_ATTRIBUTES) to a `user` object:

    given_name       givenName          (at most 64 characters)
    family_name      sn                 (64)
    display_name     displayName        (256; the object's cn is the display name too,
                                         `Jane Doe (E123)` when the OU holds a `Jane Doe`)
    email            mail               (256)
    user_name        userPrincipalName  (the email; with `upn_suffix`, the UPN is
                                         `<sAMAccountName>@<suffix>` and the user name
                                         read back is `mail`)
    employee_number  employeeID         (the employee_id: the link; at most 16)
    department       department         (64)
    title            title              (128; the job code)
    manager          manager            = the manager's DN (read back as the manager's
                                         employeeID; compared normalised)
    accountExpires   accountExpires     (AD_EXPIRES, planned as a mapped attribute: the
                                         last day of access as an ISO date; written as
                                         the FILETIME of 00:00 UTC the day after, "never"
                                         when None; 0 and 0x7FFFFFFFFFFFFFFF read as never)
    Account.id            objectGUID (kept across moves and renames)
    Account.external_id   employeeID
    Account.login         sAMAccountName
    Account.active        userAccountControl's ACCOUNTDISABLE bit clear

Mapped attributes (config `attributes`) are written and read under their own type.
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

from jml.config import AD_EXPIRES

__all__ = [
    "ACCOUNTDISABLE",
    "AD_OF",
    "EMPLOYEE_ID_MAX",
    "LIMITS",
    "NEVER",
    "NORMAL_ACCOUNT",
    "cut",
    "expires_of",
    "filetime_of",
    "new_password",
    "password_value",
    "uac_with",
]

#: Canonical attribute -> AD attribute (user_name: see the module docstring).
AD_OF = {
    "given_name": "givenName",
    "family_name": "sn",
    "display_name": "displayName",
    "email": "mail",
    "user_name": "userPrincipalName",
    "employee_number": "employeeID",
    "department": "department",
    "title": "title",
    "manager": "manager",
    AD_EXPIRES: "accountExpires",
}
#: The longest value the schema lets each attribute hold (rangeUpper), cut to fit.
LIMITS = {"givenName": 64, "sn": 64, "displayName": 256, "mail": 256, "department": 64, "title": 128, "cn": 64}
EMPLOYEE_ID_MAX = 16

ACCOUNTDISABLE = 0x2
NORMAL_ACCOUNT = 0x200
#: accountExpires: never (new objects get this; 0 means never too).
NEVER = 0x7FFFFFFFFFFFFFFF
_EPOCH = datetime(1601, 1, 1, tzinfo=UTC)
_TICKS = 10_000_000  # FILETIME counts 100 ns

_SPECIALS = "!#%+-.:=?@_~"
_CLASSES = (string.ascii_uppercase, string.ascii_lowercase, string.digits, _SPECIALS)
PASSWORD_LENGTH = 28


def filetime_of(last_day: str | None) -> int:
    """accountExpires for a last day of access (ISO date): 00:00 UTC of the day after,
    as FILETIME; NEVER for None. ValueError for text that is no date."""
    if last_day is None or not str(last_day).strip():
        return NEVER
    end = datetime.combine(date.fromisoformat(str(last_day).strip()[:10]) + timedelta(days=1), datetime.min.time(), UTC)
    return (end - _EPOCH) // timedelta(microseconds=1) * 10


def expires_of(value: str | None) -> str | None:
    """The last day of access (ISO date) an accountExpires value means; None for never
    (0, NEVER, no value, or a value that is no number)."""
    try:
        ticks = int(value) if value is not None else 0
    except ValueError:
        return None
    if ticks <= 0 or ticks >= NEVER:
        return None
    moment = _EPOCH + timedelta(microseconds=ticks // 10)
    return (moment - timedelta(microseconds=1)).date().isoformat()  # the day access ends after


def uac_with(current: int, active: bool) -> int:
    """userAccountControl with ACCOUNTDISABLE cleared (active) or set, the rest kept."""
    return current & ~ACCOUNTDISABLE if active else current | ACCOUNTDISABLE


def new_password() -> str:
    """A random password (`secrets`) of PASSWORD_LENGTH characters with at least one of
    each class (upper, lower, digit, special): AD's complexity rules met by any policy."""
    alphabet = "".join(_CLASSES)
    while True:
        candidate = "".join(secrets.choice(alphabet) for _ in range(PASSWORD_LENGTH))
        if all(any(c in kind for c in candidate) for kind in _CLASSES):
            return candidate


def password_value(password: str) -> bytes:
    """unicodePwd's value: the password in double quotes, UTF-16-LE."""
    return f'"{password}"'.encode("utf-16-le")


def cut(values: Mapping[str, list[Any]]) -> tuple[dict[str, list[Any]], list[str]]:
    """AD attribute -> its values with each text cut to its LIMITS, and the attributes
    that were cut."""
    out: dict[str, list[Any]] = {}
    cut_names: list[str] = []
    for name, found in values.items():
        limit = LIMITS.get(name)
        if limit is not None and any(isinstance(v, str) and len(v) > limit for v in found):
            out[name] = [v[:limit].rstrip() if isinstance(v, str) else v for v in found]
            cut_names.append(name)
        else:
            out[name] = list(found)
    return out, cut_names
