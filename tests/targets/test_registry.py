"""The registry of targets: names without imports, descriptors found by name and checked to be what they say."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from deployer.targets import every_target, for_engine, names, register, target_kind, unregister
from tests.conftest import REPO

WEBHOOK = "tests.support.webhook_target:Webhook"


@pytest.fixture
def forget() -> Iterator[list[str]]:
    """Names a test registers, unregistered after it whatever happens."""
    registered: list[str] = []
    yield registered
    for name in registered:
        unregister(name)


def test_the_built_in_targets_in_order() -> None:
    assert names() == ("kibana", "opensearch")
    assert [kind.name for kind in every_target()] == ["kibana", "opensearch"]
    assert for_engine("elasticsearch").name == "kibana" and for_engine("opensearch").name == "opensearch"
    with pytest.raises(ValueError, match=r"^no target runs on the splunk engine$"):
        for_engine("splunk")


def test_an_unknown_name_fails_naming_the_known_ones() -> None:
    with pytest.raises(ValueError) as refused:
        target_kind("splunk")
    assert str(refused.value) == "unknown target 'splunk'; known: kibana, opensearch"


def test_a_registered_target_is_named_in_the_known_list(forget: list[str]) -> None:
    register("webhook", WEBHOOK)
    forget.append("webhook")
    with pytest.raises(ValueError, match=r"; known: kibana, opensearch, webhook$"):
        target_kind("splunk")


def test_a_descriptor_declaring_another_name_is_refused(forget: list[str]) -> None:
    register("hooks", WEBHOOK)
    forget.append("hooks")
    with pytest.raises(ValueError) as refused:
        target_kind("hooks")
    assert str(refused.value) == f"{WEBHOOK} declares itself 'webhook', registered as 'hooks'"
    with pytest.raises(ValueError, match="registered as 'hooks'"):  # refused, so not kept for the next caller either
        target_kind("hooks")


def test_only_a_target_kind_is_accepted(forget: list[str]) -> None:
    register("server", "tests.support.webhook_target.server:WebhookServer")
    forget.append("server")
    with pytest.raises(ValueError, match=r"^tests\.support\.webhook_target\.server:WebhookServer is not a TargetKind"):
        target_kind("server")
    with pytest.raises(ValueError, match=r"is not 'package\.module:Class'"):
        register("broken", "tests.support.webhook_target.Webhook")
    assert "broken" not in names()


def test_listing_names_imports_no_target() -> None:
    """The CLI's choices and detect.toml's table names cost nothing: only the registry module is imported."""
    program = ("import json, sys; from deployer.targets import names; names(); "
               "print(json.dumps(sorted(m for m in sys.modules if m.startswith('deployer.targets') or m == 'httpx')))")
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    listed = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, check=True, env=environment,
                            timeout=60)
    assert json.loads(listed.stdout) == ["deployer.targets"]
