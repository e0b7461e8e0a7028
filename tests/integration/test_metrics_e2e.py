"""`/metrics` end to end: a real controller, machine agents and charms (an ops charm and a
bash one); one scrape counts every hook the deploy ran, hook by hook, as the units' own logs
record them."""

from __future__ import annotations

import collections
import re
import ssl
from pathlib import Path

import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests import _waiting as waiting
from tests.integration.conftest import EXAMPLES, Rune

pytestmark = pytest.mark.e2e

HookKey = tuple[str, str, str]
"""(charm, hook, outcome)."""

_ENDED = [
    (re.compile(r'\.uniter ran hook "(?P<hook>[^"]+)"$'), "succeeded"),
    (re.compile(r'\.uniter hook "(?P<hook>[^"]+)" (failed|cannot run|cannot start)'), "failed"),
    (re.compile(r'\.uniter skipped "(?P<hook>[^"]+)" hook \(missing\)$'), "missing"),
]
"""How a unit log says a hook ended (`runecraft.agents.hookrunner`)."""


def hooks_in_unit_logs(home: Path) -> collections.Counter[HookKey]:
    """Every hook that ended, by charm, hook and outcome, from each unit's own log."""
    counted: collections.Counter[HookKey] = collections.Counter()
    unit_dirs = list((home / "machines").glob("*/*/units/*"))
    assert unit_dirs, "no unit directories"
    for unit_dir in unit_dirs:
        charm = yaml.safe_load((unit_dir / "charm" / "metadata.yaml").read_text())["name"]
        for line in (unit_dir / "unit.log").read_text().splitlines():
            for pattern, outcome in _ENDED:
                found = pattern.search(line)
                if found is not None:
                    counted[charm, found["hook"], outcome] += 1
    return counted


Samples = dict[str, dict[tuple[tuple[str, str], ...], float]]
"""Sample name → its labels (sorted pairs) → value."""


class Scraper:
    """GETs `/metrics` as the admin, trusting the controller's CA only."""

    def __init__(self, home: Path) -> None:
        config = yaml.safe_load((home / "client.yaml").read_text())
        self.url = config["endpoint"].rstrip("/") + "/metrics"
        self.token = config["token"]
        ca = config.get("ca_cert")
        self.verify: ssl.SSLContext | bool = (
            ssl.create_default_context(cadata=ca) if ca is not None else True
        )

    def get(self, token: str | None) -> httpx.Response:
        headers = {} if token is None else {"Authorization": f"Bearer {token}"}
        return httpx.get(self.url, headers=headers, verify=self.verify, timeout=30)

    def samples(self) -> Samples:
        response = self.get(self.token)
        assert response.status_code == 200, response.text
        found: Samples = {}
        for family in text_string_to_metric_families(response.text):
            for sample in family.samples:
                labels = tuple(sorted(sample.labels.items()))
                found.setdefault(sample.name, {})[labels] = sample.value
        return found


def hook_counts(samples: Samples) -> dict[HookKey, int]:
    counts = samples.get("runecraft_hook_duration_seconds_count", {})
    return {
        (labels["charm"], labels["hook"], labels["outcome"]): int(value)
        for labels, value in ((dict(key), value) for key, value in counts.items())
    }


@pytest.mark.parametrize("broker", ["embedded", "mosquitto"])
def test_one_scrape_counts_every_hook_the_deploy_ran(rune: Rune, broker: str) -> None:
    rune("bootstrap", "--broker", broker)
    rune("deploy", str(EXAMPLES / "hello"), "hello", "-n", "2", "--config", "greeting=hi")
    rune("deploy", str(EXAMPLES / "hello-bash"))
    rune("wait", "--timeout", "5m")
    scraper = Scraper(rune.home)

    seen: list[tuple[dict[HookKey, int], dict[HookKey, int]]] = []

    def counted_alike() -> tuple[dict[HookKey, int], Samples] | None:
        logged = dict(hooks_in_unit_logs(rune.home))
        samples = scraper.samples()
        seen[:] = [(logged, hook_counts(samples))]
        return (logged, samples) if seen[0][1] == logged else None

    # The agents send their counts before a unit reports it settled, so they are in when
    # `rune wait` returns; a later hook (update-status) would be counted on both sides.
    try:
        logged, samples = waiting.until("the scrape to count the logged hooks", counted_alike, 60)
    except waiting.TimedOutError:
        raise AssertionError(f"logged {seen[0][0]}, scraped {seen[0][1]}") from None
    assert sum(logged.values()) >= 3 * 4  # install, leader-elected or not, config, start
    assert {charm for charm, _, _ in logged} == {"hello", "hello-bash"}
    assert all(outcome == "succeeded" for _, _, outcome in logged)
    for (charm, hook, outcome), count in logged.items():
        labels = (("charm", charm), ("hook", hook), ("le", "+Inf"), ("outcome", outcome))
        assert samples["runecraft_hook_duration_seconds_bucket"][labels] == count

    per_agent = samples["runecraft_agent_hooks_total"]
    assert len({dict(labels)["agent"] for labels in per_agent}) == 3  # one agent per machine
    assert sum(per_agent.values()) == sum(logged.values())
    assert samples["runecraft_units"][(("model", "default"), ("workload_status", "active"))] == 3
    assert samples["runecraft_agents_connected"][()] == 3
    assert samples["runecraft_bus_messages_total"][(("direction", "in"),)] > 0
    assert samples["runecraft_bus_bytes_total"][(("direction", "out"),)] > 0
    assert samples["runecraft_reconcile_pass_duration_seconds_count"][()] > 0
    assert samples["runecraft_db_statement_duration_seconds_count"][()] > 0
    assert samples["runecraft_agent_metrics_refused_total"][()] == 0

    assert scraper.get(None).status_code == 403
    assert scraper.get("not-a-token").status_code == 403
