"""The name each target type gives a canonical account attribute (jml.model
ACCOUNT_ATTRIBUTES): what `jml preview` shows a person's account in. A target's mapped
`attributes` already carry the target's own names."""

from __future__ import annotations

from connectors.targets.ad.schema import AD_OF
from connectors.targets.ldap.entries import LDAP_OF
from connectors.targets.scim.resources import PATCH_PATHS
from connectors.targets.sql.schema import MAPPED
from jml.config import AdTarget, LdapTarget, ScimTarget, SqlTarget, TargetConfig
from jml.model import ACCOUNT_ATTRIBUTES

__all__ = ["attribute_names"]


def attribute_names(config: TargetConfig) -> dict[str, str]:
    """Canonical attribute -> the target's name for it (SCIM: its path, extension
    attributes under their full URN; LDAP: the attribute type, the login `uid`; SQL: the
    users table's column)."""
    if isinstance(config, ScimTarget):
        return dict(PATCH_PATHS)
    if isinstance(config, LdapTarget):
        return {**LDAP_OF, "user_name": "mail"}
    if isinstance(config, AdTarget):
        return {key: name for key, name in AD_OF.items() if key in ACCOUNT_ATTRIBUTES}
    if isinstance(config, SqlTarget):
        columns = {canonical: getattr(config.users, field) for canonical, field in MAPPED.items()}
        return {canonical: column for canonical, column in columns.items() if column}
    raise TypeError(f"no attribute names for {type(config).__name__}")
