"""Targets are worked on in parallel (SPEC "Incremental runs"): a slow target holds up no
other. Two tenants of scim2-server, each behind its own proxy; the first target's proxy
holds every request a second before forwarding it."""

from __future__ import annotations

from urllib.parse import urlsplit

import yaml

from flows.hr_sync import hr_sync
from tests.faultproxy import Faults, fault_proxy
from tests.flows.running import run_bound
from tests.flows.test_hr_sync import AS_OF, people, write_world

DELAY = 1.0


def test_a_slow_target_does_not_hold_up_the_others(tmp_path, scim_server, monkeypatch):
    slow_tenant, fast_tenant = scim_server.tenant(), scim_server.tenant()
    monkeypatch.setenv("SLOW_TOKEN", slow_tenant.token)
    monkeypatch.setenv("FAST_TOKEN", fast_tenant.token)
    with (
        fault_proxy(scim_server.url, Faults(delay=DELAY)) as slow,
        fault_proxy(scim_server.url, Faults()) as fast,
    ):
        config = write_world(tmp_path, "http://unused.invalid", people(12))
        world = yaml.safe_load(config.read_text())
        world["targets"] = [
            {"name": name, "type": "scim", "url": proxy.url + urlsplit(tenant.url).path, "token_env": env}
            for name, proxy, tenant, env in (("app", slow, slow_tenant, "SLOW_TOKEN"), ("fast", fast, fast_tenant, "FAST_TOKEN"))
        ]
        config.write_text(yaml.safe_dump(world))
        policy = tmp_path / "policy.yaml"
        rules = yaml.safe_load(policy.read_text())
        rules["bundles"]["staff"]["grants"]["fast"] = ["all-staff"]
        policy.write_text(yaml.safe_dump(rules))
        document = run_bound(config, hr_sync, as_of=AS_OF, return_state=True).result()
    assert document["status"] == "converged", document
    assert slow.writes and fast.writes, (slow.counts, fast.counts)
    # Worked on one after the other, the fast target's first write would wait for the
    # slow target's last answer: in parallel it comes while the slow one still writes.
    assert min(arrived for arrived, _ in fast.writes) < max(answered for _, answered in slow.writes)
    assert document["per_target"] == {"app": {"create": 12, "grant": 24}, "fast": {"create": 12, "grant": 12}}
