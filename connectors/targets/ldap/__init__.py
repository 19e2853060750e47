"""An LDAP v3 directory (OpenLDAP, 389-DS, ...) as a jml target, through ldap3.

- `dn`: distinguished names (RFC 4514): escaping, splitting, comparing.
"""
