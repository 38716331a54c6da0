"""What a test index for a rule maps (deployer/rules/fields.py named_fields)."""

from __future__ import annotations

import dataclasses

from deployer.rules.fields import named_fields
from deployer.rules.ruleset import validate_paths
from tests.conftest import EQL_RULE


def test_the_fields_a_rule_names_outside_its_query_are_mapped_too() -> None:
    (rule,) = validate_paths([EQL_RULE]).rules
    assert "event.category" in named_fields(rule)
    named = named_fields(dataclasses.replace(rule, event_category_override="endgame.event_type",
                                             timestamp_override="event.ingested", tiebreaker_field="event.sequence"))
    assert {"endgame.event_type", "event.ingested", "event.sequence"} <= set(named)


def test_fixture_fields_are_mapped_in_order_and_once() -> None:
    (rule,) = validate_paths([EQL_RULE]).rules
    named = named_fields(rule, [{"host": {"name": "a"}, "extra": {"field": 1}}, {"extra": {"field": 2}}])
    assert named.count("extra.field") == 1 and named.index("host.name") < named.index("extra.field")
