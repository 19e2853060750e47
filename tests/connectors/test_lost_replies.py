"""Creates whose reply is lost are settled, not sent twice: the SCIM target on the kernel,
through the fault-injecting proxy (tests/faultproxy.py) in front of the real scim2-server,
with every write's reply dropped after the server acted."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from app import launchers
from connectors.kernel import Kernel
from connectors.targets.scim import ScimDriver
from jml.config import ScimTarget
from tests.connectors.test_scim import TOKEN_ENV, create
from tests.faultproxy import Faults, fault_proxy

PEOPLE = ("E1", "E2", "E3")


@pytest.mark.parametrize("bulk", [True, False], ids=["bulk", "single"])
def test_creates_whose_reply_was_lost_are_found_and_settled_once(
    scim_server: launchers.ScimServer, scim_tenant: launchers.ScimTenant, bulk: bool
) -> None:
    with fault_proxy(scim_server.url, Faults(dropped=1.0)) as proxy:
        config = ScimTarget(
            name="scim", type="scim", url=proxy.url + urlsplit(scim_tenant.url).path, token_env=TOKEN_ENV,
            bulk=bulk, retry={"attempts": 3, "backoff_seconds": 0.01, "max_backoff_seconds": 0.05},
        )  # fmt: skip
        with Kernel(ScimDriver(config, environ={TOKEN_ENV: scim_tenant.token}), config.retry) as target:
            applied = target.apply([create(eid) for eid in PEOPLE])
        dropped = proxy.counts["dropped"]
    assert dropped > 0, "the proxy lost no reply: the test proves nothing"
    assert [o.error for o in applied.outcomes] == [None] * len(PEOPLE)
    assert applied.settled == len(PEOPLE) and all(o.account_id for o in applied.outcomes)
    with Kernel(ScimDriver(config.model_copy(update={"url": scim_tenant.url}),
                           environ={TOKEN_ENV: scim_tenant.token}), config.retry) as direct:  # fmt: skip
        held = sorted(a.external_id for a in direct.read().accounts)
    assert held == sorted(PEOPLE), "one account per person, none twice"
