"""A SCIM 2.0 service provider (RFC 7643, RFC 7644) as a jml target.

- `resources`: the mapping of accounts to SCIM Users and every request, built without I/O;
- `client`: the HTTP side (one pooled client, typed errors, discovery);
- `bulk`: Bulk requests (the kernel's Bulk capability);
- `schema_check`: the mapped attributes checked against the server's /Schemas, once;
- `driver`: `ScimDriver`, the kernel's primitives over those.
"""

from connectors.targets.scim.driver import ScimDriver
from connectors.targets.scim.resources import scim_filter_string

__all__ = ["ScimDriver", "scim_filter_string"]
