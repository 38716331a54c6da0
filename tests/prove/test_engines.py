"""The engines' answers a proof reads (deployer/prove/engines.py): read defensively, one line when malformed."""

from __future__ import annotations

from typing import Any

import pytest

from deployer.prove.engines import hit_ids
from deployer.targets.answers import BadAnswer


def test_hit_ids_reads_search_and_eql_answers() -> None:
    assert hit_ids({"hits": {"hits": [{"_id": "a"}, {"_id": "b"}]}}, "where", "hits") == {"a", "b"}
    assert hit_ids({"hits": {"events": [{"_id": "c"}]}}, "where", "events") == {"c"}
    assert hit_ids({"hits": {}}, "where", "events") == set()  # EQL answers without events hold none


@pytest.mark.parametrize("answer", [None, "<html>", [], {"hits": []}, {"hits": {"hits": {"_id": "a"}}},
                                    {"hits": {"hits": ["a"]}}, {"hits": {"hits": [{"id": "a"}]}},
                                    {"hits": {"hits": [{"_id": 7}]}}])
def test_a_malformed_search_answer_is_one_line_naming_the_request(answer: Any) -> None:
    with pytest.raises(BadAnswer) as raised:
        hit_ids(answer, "opensearch: POST /detect-proof-x/_search", "hits")
    assert str(raised.value).startswith("opensearch: POST /detect-proof-x/_search: ") and "\n" not in str(raised.value)
