"""Property: the Qakbot PipeName regexp detect deploys means what the Splunk seed's PCRE means, on any pipe name.

The seed runs `regex PipeName="^\\\\\\{[0-9a-fA-F]{8}-...-[0-9a-fA-F]{8}"`: PCRE *searched* in the value,
anchored at the start by `^` only, so anything may follow the eighth hex digit of the last group (a real
GUID has twelve, then `}`). A Lucene regexp always matches the whole value, so the deployed form is
`\\\\\\{...{8}.*`. Three readings are compared on generated names: the seed with Python `re.search`
(PCRE and `re` agree on this pattern: literals, ASCII classes, counted repeats, `^` without multiline),
detect's own reading of the deployed Lucene regexp (its parse tree as a Python `re`, with `fullmatch`), and,
in the second test, real Lucene.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deployer.dialects.lucene import check_regexp, to_python_regex
from deployer.rules.model import JSON
from deployer.rules.ruleset import validate_paths
from deployer.targets import kibana, opensearch
from tests.conftest import DSL_RULE, EQL_RULE
from tests.dialects.test_lucene import SEED_PCRE

# Deterministic and bounded: the same examples on every run and machine, no example database in the tree.
PROPERTY = settings(max_examples=400, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow])

HEX = "0123456789abcdefABCDEF"
NOT_HEX = st.sampled_from("gGzZxX-_ {}\\\n\u00e9\u0660")  # includes an Arabic-Indic zero: a digit, but not [0-9]


def _regexps(payload: Any) -> list[tuple[str, bool]]:
    """Every (regexp value, case_insensitive) in a compiled payload."""
    found: list[tuple[str, bool]] = []
    stack = [payload]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "regexp":
                    ((_, spec),) = value.items()
                    found.append((spec["value"], bool(spec.get("case_insensitive", False))) if isinstance(spec, dict) else (spec, False))
                else:
                    stack.append(value)
        elif isinstance(node, list):
            stack.extend(node)
    return found


def _compiled_pipe_regexp() -> str:
    """The PipeName regexp as deployed: Kibana's DSL rule, OpenSearch's monitors from the DSL and the EQL rule."""
    validation = validate_paths([DSL_RULE, EQL_RULE])
    assert validation.ok, validation.problems
    payloads: list[JSON] = [kibana.compile_rule(rule) for rule in validation.rules if rule.language == "dsl"]
    payloads += [opensearch.compile_rule(rule) for rule in validation.rules]
    found = {regexp for payload in payloads for regexp in _regexps(payload)}
    assert len(payloads) == 3 and len(found) == 1, found  # one regexp, the same everywhere, case-sensitive
    ((pattern, case_insensitive),) = found
    assert not case_insensitive
    return pattern


@functools.cache
def deployed_regexp() -> str:
    return _compiled_pipe_regexp()


@functools.cache
def detect_reading() -> re.Pattern[str]:
    """detect's parse of the deployed regexp, as a Python pattern for `fullmatch`."""
    checked = check_regexp(deployed_regexp())
    assert checked.tree is not None and checked.findings == (), checked
    return re.compile(to_python_regex(checked.tree))


DEFECTS = ("prefix", "group length", "not hex", "separator")


@st.composite
def guid_like_pipe_names(draw: st.DrawFn) -> str:
    """`\\{` + 8-4-4-4-(8|12) hex groups (either case) + any suffix; most with one defect: near misses."""
    defect = draw(st.sampled_from([None, None, None, *DEFECTS]))
    lengths = [8, 4, 4, 4, draw(st.sampled_from([8, 12]))]
    prefix, separators = "\\{", ["-"] * 4
    if defect == "prefix":
        prefix = draw(st.sampled_from(["{", "\\", "\\\\{", "", "x\\{", "\\{ ", "/{", "\\[", "\\(", "\n\\{"]))
    elif defect == "group length":
        index = draw(st.integers(0, 4))
        lengths[index] = draw(st.sampled_from([0, lengths[index] - 1, lengths[index] + 1]))
    elif defect == "separator":
        separators[draw(st.integers(0, 3))] = draw(st.sampled_from(["_", "", "--", "\u2010", " "]))
    groups = [draw(st.text(st.sampled_from(HEX), min_size=length, max_size=length)) for length in lengths]
    if defect == "not hex":
        index = draw(st.integers(0, 4))
        position = draw(st.integers(0, lengths[index] - 1))
        groups[index] = groups[index][:position] + draw(NOT_HEX) + groups[index][position + 1:]
    suffix = draw(st.one_of(st.sampled_from(["", "}", "}\\x", "\n", "}\n", "\\"]), st.text(max_size=12)))
    return prefix + groups[0] + "".join(separator + group for separator, group in zip(separators, groups[1:], strict=True)) + suffix


PIPE_NAMES = st.one_of(guid_like_pipe_names(), st.text(max_size=60), st.text(max_size=50).map(lambda tail: "\\{" + tail))


def seed_matches(pipe: str) -> bool:
    return SEED_PCRE.search(pipe) is not None


@PROPERTY
@given(PIPE_NAMES)
def test_detect_reads_the_deployed_regexp_as_the_seed_reads_its_pcre(pipe: str) -> None:
    assert (detect_reading().fullmatch(pipe) is not None) == seed_matches(pipe)


def test_the_generated_names_are_near_misses_on_both_sides() -> None:
    """Guard against a vacuous property: the strategy must produce matches and non-matches alike."""
    seen: set[bool] = set()

    @settings(max_examples=200, deadline=None, derandomize=True, database=None)
    @given(guid_like_pipe_names())
    def collect(pipe: str) -> None:
        seen.add(seed_matches(pipe))

    collect()
    assert seen == {True, False}


@PROPERTY
@given(st.lists(PIPE_NAMES, min_size=1, max_size=25))
def test_real_lucene_reads_the_deployed_regexp_as_the_seed_reads_its_pcre(lucene: Any, pipes: list[str]) -> None:
    assert lucene.regexp_matches(deployed_regexp(), pipes) == [seed_matches(pipe) for pipe in pipes]
