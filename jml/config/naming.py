"""The `naming` section of the config (SPEC "Generated identifiers"): how jml makes a
company email for a person HR gives none (the rules are `jml.naming`).

    naming:
      email: "{first_name}.{last_name}@corp.example.com"

The template (`jml.mapping.parse_template`) reads feed columns, before the last `@`
only; the domain after it is fixed text, lowercased, of LDH labels with a dot.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from pydantic import field_validator

from jml.config.common import Strict
from jml.mapping import Template, parse_template

__all__ = ["NamingConfig"]

_DOMAIN = re.compile(r"^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\Z")


class NamingConfig(Strict):
    #: The template of a generated email; None: HR must give every email.
    email: str | None = None

    @field_validator("email")
    @classmethod
    def _email(cls, text: str | None) -> str | None:
        if text is None:
            return None
        parse_template(text)  # the whole text: its errors name it
        local, at, domain = text.rpartition("@")
        if not at or not _DOMAIN.match(domain.lower()):
            raise ValueError(
                "must end in @ and a domain without placeholders, e.g. {first_name}.{last_name}@corp.example.com"
            )
        if not parse_template(local).names:  # the domain is fixed text
            raise ValueError("needs a placeholder before the @, e.g. {first_name}.{last_name}@corp.example.com")
        return text

    @property
    def email_template(self) -> Template | None:
        """The parsed email template (None when not set)."""
        return parse_template(self.email) if self.email is not None else None

    def unknown_columns(self, columns: Iterable[str]) -> list[str]:
        """The template's placeholders that are none of `columns` (the feed's)."""
        known = set(columns)
        template = self.email_template
        return [name for name in template.names if name not in known] if template else []
