"""An LDAP v3 directory (OpenLDAP, 389-DS, ...) as a jml target, through ldap3.

- `jml.dn` (shared with the AD target): distinguished names (RFC 4514);
- `entries`: where accounts live and the mapping of an account to its entry (no I/O);
- `wire`: the bound connection, paged searches, LDAP results as typed errors;
- `members`: group memberships, and the references that follow a moved entry;
- `driver`: `LdapDriver`, the kernel's primitives over those.
"""

from connectors.targets.ldap.driver import LdapDriver

__all__ = ["LdapDriver"]
