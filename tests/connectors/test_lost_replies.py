"""The SCIM target on the kernel through the fault-injecting proxy (tests/faultproxy.py) in
front of the real scim2-server: creates whose reply is lost (every write's reply dropped
after the server acted) are settled, not sent twice; a read of many requests through a
server refusing a third of them gets through, each refused request sent again alone."""

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


def test_a_read_back_through_a_refusing_server_sends_again_only_the_refused_requests(
    scim_server: launchers.ScimServer, scim_tenant: launchers.ScimTenant
) -> None:
    """40 users read back by id (40 GETs and a /Groups listing), a third of the requests
    answered 503: tried again whole, a read would almost never see every one of them
    answered at once (0.67^41); tried again request by request, each user is fetched
    once."""
    people = [f"E{i:02d}" for i in range(40)]
    environ = {TOKEN_ENV: scim_tenant.token}
    direct = ScimTarget(name="scim", type="scim", url=scim_tenant.url, token_env=TOKEN_ENV)
    with Kernel(ScimDriver(direct, environ=environ), direct.retry) as target:
        assert all(o.ok for o in target.apply([create(eid) for eid in people]).outcomes)
    with fault_proxy(scim_server.url, Faults(unavailable=0.33, seed=3)) as proxy:
        config = ScimTarget(
            name="scim", type="scim", url=proxy.url + urlsplit(scim_tenant.url).path, token_env=TOKEN_ENV,
            retry={"attempts": 12, "backoff_seconds": 0.01, "max_backoff_seconds": 0.05},
        )  # fmt: skip
        with Kernel(ScimDriver(config, environ=environ), config.retry) as target:
            target.read()  # every handle known: the read-back asks by id
            proxy.counts.clear()
            read_back = target.read_accounts(people)
        counts = dict(proxy.counts)
    assert sorted(a.external_id for a in read_back.accounts) == people
    assert counts.get("unavailable", 0) > 0, f"the proxy refused nothing: the test proves nothing ({counts})"
    assert counts.get("users fetched") == len(people), counts
