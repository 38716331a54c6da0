"""A third target, shipped by the tests as a test backend: a webhook receiver that keeps one JSON payload per rule.

It is the proof that adding a target is one folder and one registry entry. It lives outside deployer/ and names
nothing there but the contract (deployer.targets.base) and the one HTTP layer (deployer.targets.http); the tests
`register("webhook", "tests.support.webhook_target:Webhook")`, and detect.toml, plan, deploy and the CLI then know
it through the registry. compile.py makes the payload and its comparable form, client.py talks to one channel of
the receiver, server.py is the receiver itself (loopback, for the tests).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from deployer.errors import UnsupportedByTarget
from deployer.targets.base import Desired, Target, TargetKind


class Webhook(TargetKind):
    """Each rule a JSON document PUT to `<url>/channels/<channel>/payloads/<rule_id>`; one client per channel."""

    name: ClassVar[str] = "webhook"
    title: ClassVar[str] = "Webhook"
    engine: ClassVar[str] = "webhook"  # no engine runs its payloads: `detect test` has nothing to prove them on
    payload_noun: ClassVar[str] = "payload"
    # Its own setting, beside the connection every table has; it reaches the client as TargetSettings.options.
    settings_schema: ClassVar[Mapping[str, Any]] = {
        "channel": {"type": "string", "pattern": "^[a-z0-9-]+$", "description": "Where on the receiver the payloads go."},
    }

    def compile_rule(self, rule: Any) -> Any:
        from tests.support.webhook_target.compile import compile_rule

        return compile_rule(rule)

    def desired_rule(self, rule: Any) -> Desired:
        from tests.support.webhook_target.compile import desired_rule

        return desired_rule(rule)

    def open(self, settings: Any, location: str | None, **client_options: Any) -> Target:
        from tests.support.webhook_target.client import WebhookTarget

        return WebhookTarget(settings, **client_options)

    def prove_rule(self, engine: Any, case: Any) -> None:
        raise UnsupportedByTarget("", "a webhook payload runs on no engine: there is nothing to prove it on")
