"""What the config's network services share (a SCIM target, an LDAP directory, an HRIS
REST API): how they are reached safely, and what a run warns about.

- `Endpoint`: `url`, `verify` (TLS verification, on by default), `ca_file` (the CA
  bundle to trust instead of the default one; relative to the config file), `insecure`
  and `timeout`. A cleartext URL (`http://`, `ldap://`) to a host that is not a
  loopback address (127.0.0.0/8, ::1, localhost) is refused unless `insecure: true`;
  `ca_file` with `verify: false` is refused (one would be ignored); a URL holding a
  password (after the user, or a `token=`-like query parameter) is refused: credentials
  come from the environment (`token_env`, `password_env`).
- `HttpEndpoint`: an `Endpoint` spoken to over HTTP, with an explicit `proxy` (the
  environment's proxy variables are never used), `max_pages` and `max_response_mb`
  (the bounds on one read).
- `weakened(entry)`: the sentences a run logs as warnings for an entry whose config
  weakens its transport (`verify: false`, `insecure: true`).

Messages name the field, never the URL (it may carry what must not be printed).
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

from pydantic import Field, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError

from jml.config.common import Strict, holds_secret, secret_in_url_message

__all__ = ["CLEARTEXT_SCHEMES", "Endpoint", "HttpEndpoint", "is_loopback", "weakened"]

#: The schemes that send everything, credentials included, in the clear.
CLEARTEXT_SCHEMES = frozenset({"http", "ldap"})


def is_loopback(host: str | None) -> bool:
    """Whether `host` (a URL's hostname) is `localhost` or a loopback address."""
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Endpoint(Strict):
    """A service reached over the network; see the module docstring."""

    url: str
    verify: bool = True
    ca_file: Path | None = None
    insecure: bool = False
    timeout: float = Field(default=30.0, gt=0)

    @field_validator("ca_file")
    @classmethod
    def _anchor_ca_file(cls, path: Path | None, info: ValidationInfo) -> Path | None:
        base_dir = (info.context or {}).get("base_dir")
        if path is None or path.is_absolute() or base_dir is None:
            return path
        return (Path(base_dir) / path).resolve()

    @model_validator(mode="after")
    def _refuse_weak_urls(self) -> Endpoint:
        try:
            url = urlsplit(self.url)
            host = url.hostname
            password = url.password
        except ValueError:
            raise PydanticCustomError("url", "url: not a valid URL") from None
        if holds_secret(password, (key for key, _ in parse_qsl(url.query, keep_blank_values=True))):
            hint = secret_in_url_message("name its environment variable in token_env or password_env")
            raise PydanticCustomError("url_secret", "url: {hint}", {"hint": hint})
        if url.scheme.lower() in CLEARTEXT_SCHEMES and not self.insecure and not is_loopback(host):
            raise PydanticCustomError(
                "cleartext",
                "url: {scheme}:// is cleartext and the host is not a loopback address; use {secure}:// "
                "or, to accept anyone on the path reading and changing it, say insecure: true",
                {"scheme": url.scheme.lower(), "secure": url.scheme.lower() + "s"},
            )
        if self.ca_file is not None and not self.verify:
            raise PydanticCustomError("ca_file", "ca_file: verify: false ignores it; give one or the other")
        return self


class HttpEndpoint(Endpoint):
    """An `Endpoint` over HTTP: `proxy` (an http:// or https:// proxy URL, without a
    password), and the bounds on one read: at most `max_pages` pages, each answer at
    most `max_response_mb` megabytes."""

    proxy: str | None = Field(default=None, pattern=r"^https?://[^/?#]+/?$")
    max_pages: int = Field(default=10_000, ge=1)
    max_response_mb: int = Field(default=64, ge=1, le=4096)

    @field_validator("proxy")
    @classmethod
    def _no_password(cls, proxy: str | None) -> str | None:
        if proxy is not None and urlsplit(proxy).password is not None:
            raise ValueError("the proxy URL must not hold a password")
        return proxy


def weakened(entry: object) -> list[str]:
    """What a run warns about an entry (a source or a target) whose config weakens its
    transport: `verify: false`, `insecure: true`; [] for any other entry."""
    if not isinstance(entry, Endpoint):
        return []
    warnings = []
    if not entry.verify:
        warnings.append(
            "TLS certificate verification is OFF (verify: false); anyone on the path can read and change what jml sends"
        )
    if entry.insecure:
        warnings.append(
            "cleartext to a host that is not loopback is allowed (insecure: true); anyone on the path can"
            " read the credentials and change what jml sends"
        )
    return warnings
