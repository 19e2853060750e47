"""Active Directory (and Samba AD) as a jml target, through ldap3 over LDAPS.

- `schema`: the mapping of an account to a `user` object, FILETIME, passwords (no I/O);
- `entries`: found objects as the snapshot and handles, values as written (no I/O);
- `names`: an object's OU, cn and sAMAccountName;
- `driver`: `AdDriver`, the kernel's primitives over those, on the LDAP target's `Wire`
  and `Members` (connectors.targets.ldap) and the DN helpers of `jml.dn`.
"""

from connectors.targets.ad.driver import AdDriver

__all__ = ["AdDriver"]
