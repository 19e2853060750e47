"""Distinguished names (RFC 4514) for the directory targets (LDAP, AD) and their config:
escaping a value for an RDN, splitting a DN into (type, value) pairs, writing or
comparing DNs one way, a DN's parent and whether one DN lies under another.

Pure functions, no I/O. ldap3's own DN helpers are not used: its escaper leaves a `#`
inside a value unescaped and its parser then refuses the result.
"""

from __future__ import annotations

from functools import lru_cache

__all__ = ["dn_key", "escape_dn_value", "first_rdn", "is_under", "parent_dn", "rdn_value", "render_dn", "split_dn"]


#: Characters escaped with a backslash wherever they stand in a DN value: RFC 4514's
#: `escaped` and `special` sets (escaping more than the minimum is allowed, and some
#: clients, ldap3 among them, refuse an unescaped `#` or `=` anywhere).
_DN_SPECIALS = frozenset('"+,;<>\\#=')


def escape_dn_value(value: str) -> str:
    """`value` escaped for an RDN (RFC 4514 §2.4): specials, a leading or trailing
    space, and NUL; `O'Brien, Jr.` -> `O'Brien\\, Jr.`."""
    out = []
    for position, char in enumerate(value):
        if char in _DN_SPECIALS or (char == " " and position in (0, len(value) - 1)):
            out.append("\\" + char)
        elif char == "\0":
            out.append("\\00")
        else:
            out.append(char)
    return "".join(out)


def split_dn(dn: str) -> list[tuple[str, str]]:
    """(attribute type lowercased, value unescaped) of the first AVA of each RDN of
    `dn`, from the left; ValueError for text that is not a DN (RFC 4514)."""
    return [(kind.lower(), value) for kind, value in map(_ava, _rdns(dn))]


def rdn_value(dn: str) -> tuple[str, str]:
    """(attribute type lowercased, value unescaped) of the first RDN of `dn`."""
    return split_dn(dn)[0]


def render_dn(dn: str) -> str:
    """`dn` written the one way this module writes DNs (types and case kept)."""
    return ",".join(f"{kind}={escape_dn_value(value)}" for kind, value in map(_ava, _rdns(dn)))


def dn_key(dn: str) -> str:
    """A DN normalised for comparison: types and values lowercased, one escaping."""
    return ",".join(f"{kind}={escape_dn_value(value.lower())}" for kind, value in split_dn(dn))


def _rdns(dn: str) -> list[str]:
    """The RDNs of a DN as written, split at unescaped `,` (or the legacy `;`)."""
    if "\\" not in dn:  # nothing escaped: every separator splits (a directory's reads are mostly this)
        return dn.replace(";", ",").split(",")
    parts: list[str] = []
    current: list[str] = []
    i = 0
    while i < len(dn):
        if dn[i] == "\\":
            current.append(dn[i : i + 2])
            i += 2
            continue
        if dn[i] in ",;":
            parts.append("".join(current))
            current = []
        else:
            current.append(dn[i])
        i += 1
    parts.append("".join(current))
    return parts


@lru_cache(maxsize=1 << 16)
def _ava(rdn: str) -> tuple[str, str]:
    """(type as written, value unescaped) of the first AVA of an RDN (cached: the
    containers' RDNs recur in every DN a read finds)."""
    i = 0
    while i < len(rdn) and rdn[i] != "+":  # a multi-valued RDN: its first AVA
        i += 2 if rdn[i] == "\\" else 1
    kind, equals, value = rdn[:i].partition("=")
    kind = kind.strip()
    if not equals or not kind or not all(c.isalnum() or c in "-." for c in kind):
        raise ValueError(f"not a DN: {rdn.strip()!r} is not attribute=value")
    return kind, _unescape(value.lstrip())


def _unescape(value: str) -> str:
    """An RDN value as written in a DN (RFC 4514 §2.4: `\\c` or `\\XX` hex pairs of
    UTF-8) -> the value itself."""
    if "\\" not in value:
        return value
    out = bytearray()
    i = 0
    while i < len(value):
        char = value[i]
        if char == "\\" and i + 1 < len(value):
            pair = value[i + 1 : i + 3]
            if len(pair) == 2 and all(c in "0123456789abcdefABCDEF" for c in pair):
                out.append(int(pair, 16))
                i += 3
                continue
            out += value[i + 1].encode()
            i += 2
            continue
        out += char.encode()
        i += 1
    return out.decode("utf-8", errors="replace")


def first_rdn(dn: str) -> str:
    """The first RDN of `dn` as this module writes it (`uid=O'Brien\\, Jr.`): the
    relative name a move keeps."""
    kind, value = _ava(_rdns(dn)[0])
    return f"{kind}={escape_dn_value(value)}"


def parent_dn(dn: str) -> str:
    """`dn` without its first RDN, as this module writes DNs ("" for a one-RDN DN)."""
    return ",".join(f"{kind}={escape_dn_value(value)}" for kind, value in map(_ava, _rdns(dn)[1:]))


def is_under(dn: str, base: str) -> bool:
    """Whether `dn` is `base` or lies below it (compared normalised); ValueError when
    either is not a DN."""
    inner, outer = dn_key(dn), dn_key(base)
    return inner == outer or inner.endswith("," + outer)
