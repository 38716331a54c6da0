"""Bad input through the real CLI: a non-zero exit, one line per problem naming the file (and JSON pointer),
never a traceback, and nothing contacted — `detect test` and `detect deploy` refuse before any network call.

Each case builds a small repository (the Qakbot DSL rule, its fixtures, a detect.toml whose Kibana is a
tripwire: a loopback port that records every connection) and breaks one thing in it.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from deployer.prove.fixtures import MAX_FIXTURE_BYTES, load_fixtures
from deployer.rules.files import MAX_RULE_BYTES
from deployer.rules.jsontext import MAX_DEPTH
from deployer.rules.model import Rule
from tests.conftest import DSL_RULE, EQL_RULE, FIXTURES, RULES, detect
from tests.support.tripwire import Tripwire, tripwire_port

STEM = DSL_RULE.stem
RULE = f"detections/{STEM}.json"
NOMATCH = f"fixtures/{STEM}/nomatch.ndjson"
NOMATCH_LINES = len((RULES / NOMATCH).read_text("utf-8").splitlines())
REGEXP = "/query/bool/filter/3/regexp/file.name/value"
COMMANDS = ("validate", "test", "deploy")
# A problem line as editors and CI parse it: `file: /json/pointer: message` (fixtures: `file:line: /pointer: message`).
PROBLEM_LINE = re.compile(r"(?P<file>[^:]+(?::\d+)?): (?P<where>/\S*): (?P<message>.+)")


@pytest.fixture
def tripwire() -> Iterator[Tripwire]:
    with tripwire_port() as port:
        yield port


@pytest.fixture
def workspace(tmp_path: Path, tripwire: Tripwire) -> Iterator[Path]:
    """A repository with the Qakbot DSL rule, its fixtures and an environment `ci` whose Kibana is the tripwire."""
    repository = tmp_path / "repository"
    (repository / "detections").mkdir(parents=True)
    shutil.copy(DSL_RULE, repository / RULE)
    shutil.copytree(FIXTURES / STEM, repository / "fixtures" / STEM)
    (repository / "detect.toml").write_text(f'[environments.ci]\n[environments.ci.kibana]\nurl = "{tripwire.url}"\n')
    (tmp_path / "outside").mkdir()
    yield repository
    shutil.rmtree(tmp_path)  # some cases write tens of MB: do not keep them with pytest's last three runs


# ---------------------------------------------------------------------------------------------- building bad input


def rule_document() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(DSL_RULE.read_text("utf-8"))
    return document


def write(relative: str, content: str | bytes | dict[str, Any]) -> Callable[[Path], None]:
    def build(repository: Path) -> None:
        path = repository / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, dict):
            path.write_text(json.dumps(content, indent=2), "utf-8")
        else:
            path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return build


def rule_with(change: Callable[[dict[str, Any]], None], relative: str = RULE) -> Callable[[Path], None]:
    document = rule_document()
    change(document)
    return write(relative, document)


def set_regexp(pattern: str) -> Callable[[dict[str, Any]], None]:
    def change(document: dict[str, Any]) -> None:
        document["query"]["bool"]["filter"][3]["regexp"]["file.name"]["value"] = pattern
    return change


def eql_rule(query: str) -> Callable[[Path], None]:
    document = json.loads(EQL_RULE.read_text("utf-8"))
    document["query"] = query
    return write(f"detections/{EQL_RULE.name}", document)


def append_to(relative: str, text: str | bytes) -> Callable[[Path], None]:
    def build(repository: Path) -> None:
        with (repository / relative).open("ab") as handle:
            handle.write(text.encode("utf-8") if isinstance(text, str) else text)
    return build


def symlink(relative: str, target: str) -> Callable[[Path], None]:
    def build(repository: Path) -> None:
        (repository / relative).unlink(missing_ok=True)
        (repository / relative).symlink_to(target)
    return build


def huge_rule(repository: Path) -> None:
    # A valid rule but for its size: without the limit it would load (and validate) fine.
    document = rule_document()
    document["description"] = "x" * (50 * 1024 * 1024)
    (repository / RULE).write_text(json.dumps(document), "utf-8")


def huge_fixture(repository: Path) -> None:
    line = (repository / NOMATCH).read_text("utf-8").splitlines()[0] + "\n"
    with (repository / NOMATCH).open("a", encoding="utf-8") as handle:
        handle.write(line * (MAX_FIXTURE_BYTES // len(line) + 1))


def then(*builds: Callable[[Path], None]) -> Callable[[Path], None]:
    def build(repository: Path) -> None:
        for each in builds:
            each(repository)
    return build


def nested_bool(levels: int) -> dict[str, Any]:
    clause: dict[str, Any] = {"exists": {"field": "file.name"}}
    for _ in range(levels):
        clause = {"bool": {"filter": clause}}
    return clause


@dataclass(frozen=True)
class BadInput:
    """One broken repository and the problem lines each command must print for it (regexps, matched whole)."""

    name: str
    build: Callable[[Path], None]
    expected: tuple[str, ...]
    commands: tuple[str, ...] = COMMANDS
    path: str | None = None  # what `detect validate` and `detect test` are given (default: every rule)
    rules_dir: str | None = None  # what `detect deploy` is given as --rules-dir (default: detections)
    expected_by_command: dict[str, tuple[str, ...]] = field(default_factory=dict)


SEED_RULE_TEXT = DSL_RULE.read_text("utf-8")
BAD_INPUT = [
    # --- rule files that are not JSON
    BadInput("truncated JSON", write(RULE, SEED_RULE_TEXT[:200]),
             (rf"{RULE}: /: invalid JSON at line \d+ column \d+: Unterminated string starting at",)),
    BadInput("not JSON at all", write(RULE, "rule_id: 4c0b7e61\nname: qakbot\n"),
             (rf"{RULE}: /: invalid JSON at line 1 column 1: Expecting value",)),
    BadInput("empty file", write(RULE, ""), (rf"{RULE}: /: invalid JSON at line 1 column 1: Expecting value",)),
    BadInput("invalid UTF-8", write(RULE, SEED_RULE_TEXT.encode("utf-8").replace(b"Qakbot", b"Qakb\xf6t", 1)),
             (rf"{RULE}: /: not UTF-8: invalid byte at offset \d+",)),
    BadInput("byte order mark", write(RULE, "\ufeff" + SEED_RULE_TEXT),
             (rf"{RULE}: /: starts with a UTF-8 byte order mark \(BOM\): save the file as UTF-8 without BOM",)),
    BadInput("NaN", write(RULE, SEED_RULE_TEXT.replace('"risk_score": 49', '"risk_score": NaN')),
             (rf"{RULE}: /: invalid JSON: NaN is not a JSON number",)),
    BadInput("5000-digit number", write(RULE, SEED_RULE_TEXT.replace('"version": 1', '"version": 1' + "0" * 5000)),
             (rf"{RULE}: /: invalid JSON: a number has more than \d+ digits",)),
    BadInput("lone surrogate", write(RULE, SEED_RULE_TEXT.replace('"name": "Windows', '"name": "\\ud800Windows')),
             (rf"{RULE}: /name: a \\uD800-\\uDFFF escape without its pair \(a lone UTF-16 surrogate\) is not Unicode text",)),
    BadInput("duplicate JSON keys", write(RULE, SEED_RULE_TEXT.replace('"severity": "high",', '"severity": "high", "severity": "low",')),
             (rf"{RULE}: /severity: duplicate key 'severity': JSON readers disagree on which value counts",)),
    BadInput("huge file", huge_rule,
             (rf"{RULE}: /: file is \d+ bytes; a rule file may hold at most {MAX_RULE_BYTES}",)),
    BadInput("100k nested arrays", write(RULE, "[" * 100_000 + "]" * 100_000),
             (rf"{RULE}: /: invalid JSON: nested too deeply",)),
    BadInput("query nested deeper than the limit", rule_with(lambda d: d.update(query=nested_bool(MAX_DEPTH // 2 + 1))),
             (rf"{RULE}: /query(/bool/filter)+(/bool|/exists)?: nested more than {MAX_DEPTH} levels deep",)),
    # --- JSON, but not a rule
    BadInput("an array, not an object", write(RULE, "[]"), (rf"{RULE}: /: expected object, got array",)),
    BadInput("wrong types", rule_with(lambda d: d.update(risk_score="49", version="1", index="logs-*", enabled="yes")),
             (rf"{RULE}: /enabled: expected boolean, got string", rf"{RULE}: /index: expected array, got string",
              rf"{RULE}: /risk_score: expected integer, got string", rf"{RULE}: /version: expected integer, got string")),
    BadInput("5000-digit lookback", rule_with(lambda d: d.update({"from": "now-" + "9" * 5000 + "m"})),
             (rf'{RULE}: /from: "now-9+m" does not have the expected form \(.+\)',)),
    BadInput("term with a list", rule_with(lambda d: d["query"]["bool"]["filter"].__setitem__(0, {"term": {"event.code": ["17"]}})),
             (rf"{RULE}: /query/bool/filter/0/term/event.code: a term value is a string, number or boolean",)),
    BadInput("duplicate rule_id", write("detections/zz_copy.json", SEED_RULE_TEXT),
             (rf"detections/zz_copy.json: /rule_id: rule_id '4c0b7e61-2f5a-4f0e-9a53-6f0d8f2b9c11' is also used by {RULE}",)),
    # --- regexps Lucene refuses or chokes on
    BadInput("regexp a{99999}", rule_with(set_regexp("a{99999}")),
             (rf"{RULE}: {REGEXP}: regexp 'a\{{99999\}}' is refused by the engines on every run, as too complex for Lucene: "
              r"repeating a 2-state automaton 99999 times makes more than the 10000 states allowed \(max_determinized_states\)",)),
    BadInput("regexp nested repetitions", rule_with(set_regexp("((a{100}){100})")),
             (rf"{RULE}: {REGEXP}: regexp .+ is refused by the engines on every run, as too complex for Lucene: repeating a "
              r"200-state automaton 100 times .+",)),
    BadInput("regexp count beyond Java int", rule_with(set_regexp("a{99999999999}")),
             (rf"{RULE}: {REGEXP}: regexp .+ is not valid Lucene syntax: number 99999999999 at character 3 is larger than Lucene reads .+",)),
    BadInput("regexp 5000 nested groups", rule_with(set_regexp("(" * 5000 + "a" + ")" * 5000)),
             (rf"{RULE}: {REGEXP}: regexp '\(+a\)+' is not valid Lucene syntax: groups or operators nest too deeply",)),
    BadInput("the seed's PCRE verbatim", rule_with(set_regexp(r"^\\\{[0-9a-fA-F]{8}-[0-9a-fA-F]{4}")),
             (rf"{RULE}: {REGEXP}: regexp .+: '\^' is a literal character in Lucene: .+ \(at character 1\)",)),
    # --- EQL
    BadInput("EQL that does not parse", eql_rule("file where (file.name == "),
             (r"detections/\S+_eql.json: /query: EQL does not parse at line 1 column \d+: .+",)),
    BadInput("EQL regex Lucene refuses", eql_rule('file where file.name regex "a{99999}"'),
             (r"detections/\S+_eql.json: /query: regexp 'a\{99999\}' is refused by the engines on every run, as too complex for "
              r"Lucene: repeating a 2-state automaton 99999 times .+",)),
    # --- paths
    BadInput("symlink out of the rules folder", then(write("../outside/rule.json", SEED_RULE_TEXT.replace("4c0b7e61", "00000000")),
                                                     symlink("detections/linked.json", "../../outside/rule.json")),
             (r"detections/linked.json: /: symlink to /\S+/outside/rule.json, outside detections: rule files must live in the rules folder",)),
    BadInput("broken symlink", symlink("detections/gone.json", "../nowhere.json"),
             (r"detections/gone.json: /: not a regular file \(a broken symlink\?\)",)),
    BadInput("non-existent path", lambda _repository: None, (r"nowhere/rule.json: /: no such file or folder",),
             path="nowhere/rule.json", rules_dir="nowhere",
             expected_by_command={"test": (r"error: no rule file 'nowhere/rule.json' and no valid rule with that rule_id under detections",),
                                  "deploy": (r"nowhere: /: no such file or folder",)}),
    BadInput("a folder named like a rule", write("detections/folder.json/README.md", "not a rule"),
             (r"detections/folder.json: /: no rule files \(\*\.json\) in this folder",), path="detections/folder.json",
             rules_dir="detections/folder.json",
             expected_by_command={"test": (r"error: no rule file 'detections/folder.json' and no valid rule with that rule_id under detections",)}),
    BadInput("a rule file outside the repository", write("../outside/bad.json", SEED_RULE_TEXT[:200]),
             (r"\.\./outside/bad.json: /: invalid JSON at line \d+ column \d+: Unterminated string starting at",),
             path="../outside/bad.json", rules_dir="../outside"),
    # --- fixtures: `detect test` must refuse them before any cluster is contacted
    BadInput("fixture line not JSON", append_to(NOMATCH, "{not json\n"),
             (rf"{NOMATCH}:{NOMATCH_LINES + 1}: /: invalid JSON at column 2: Expecting property name enclosed in double quotes",),
             commands=("test",)),
    BadInput("fixture line not an object", append_to(NOMATCH, "[1, 2]\n"),
             (rf'{NOMATCH}:{NOMATCH_LINES + 1}: /: an event is a JSON object with an "@timestamp" string',), commands=("test",)),
    BadInput("fixture with duplicate keys", append_to(NOMATCH, '{"@timestamp": "now", "@timestamp": "now-80m"}\n'),
             (rf"{NOMATCH}:{NOMATCH_LINES + 1}: /@timestamp: duplicate key '@timestamp': .+",), commands=("test",)),
    BadInput("fixture with NaN", append_to(NOMATCH, '{"@timestamp": "now", "process": {"pid": NaN}}\n'),
             (rf"{NOMATCH}:{NOMATCH_LINES + 1}: /: invalid JSON: NaN is not a JSON number",), commands=("test",)),
    BadInput("fixture 100k nested arrays", append_to(NOMATCH, "[" * 100_000 + "]" * 100_000 + "\n"),
             (rf"{NOMATCH}:{NOMATCH_LINES + 1}: /: invalid JSON: nested too deeply",), commands=("test",)),
    BadInput("fixture not UTF-8", append_to(NOMATCH, b'{"@timestamp": "now", "file": {"name": "\xff"}}\n'),
             (rf"{NOMATCH}:{NOMATCH_LINES + 1}: /: not UTF-8: invalid byte at offset \d+",), commands=("test",)),
    BadInput("fixture far before year 1", append_to(NOMATCH, '{"@timestamp": "now-99999999999d"}\n'),
             (rf"fixtures/{STEM}: /: event \d+: @timestamp 'now-99999999999d' lies before the year 1",), commands=("test",)),
    BadInput("fixture file missing", lambda repository: (repository / NOMATCH).unlink(),
             (rf"{NOMATCH}: /: missing fixture file",), commands=("test",)),
    BadInput("fixture folder missing", lambda repository: shutil.rmtree(repository / "fixtures" / STEM),
             (rf"fixtures/{STEM}: /: no fixtures for rule 4c0b7e61-2f5a-4f0e-9a53-6f0d8f2b9c11: expected match.ndjson and nomatch.ndjson here",),
             commands=("test",)),
    BadInput("fixture symlinked out of the fixtures folder",
             then(write("../outside/events.ndjson", (RULES / NOMATCH).read_bytes()), symlink(NOMATCH, "../../../outside/events.ndjson")),
             (rf"{NOMATCH}: /: symlink to /\S+/outside/events.ndjson, outside the fixtures folder fixtures",), commands=("test",)),
    BadInput("huge fixture file", huge_fixture,
             (rf"{NOMATCH}: /: file is \d+ bytes; a fixture file may hold at most {MAX_FIXTURE_BYTES}",), commands=("test",)),
]


def arguments(case: BadInput, command: str, tripwire: Tripwire) -> list[str]:
    if command == "validate":
        return ["validate", *([case.path] if case.path else [])]
    if command == "test":
        # --require-fixtures: a missing fixture folder is bad input only then (else the rule is not proven, exit 0).
        return ["test", *([case.path] if case.path else []), "--require-fixtures", "--cluster-url", tripwire.url]
    return ["deploy", "--env", "ci", "--dry-run", *(["--rules-dir", case.rules_dir] if case.rules_dir else [])]


@pytest.mark.parametrize(("case", "command"), [pytest.param(case, command, id=f"{case.name}-{command}")
                                               for case in BAD_INPUT for command in case.commands])
def test_bad_input_is_refused_in_one_line_per_problem(case: BadInput, command: str, workspace: Path, tripwire: Tripwire) -> None:
    case.build(workspace)
    result = detect(*arguments(case, command, tripwire), cwd=workspace)
    output = result.stdout + result.stderr
    assert result.returncode in (1, 2), output
    assert "Traceback" not in output and "internal error" not in output, output
    assert tripwire.contacts == [], f"{command} contacted the network before refusing the input: {output}"
    expected = case.expected_by_command.get(command, case.expected)
    lines = result.stdout.splitlines() if result.returncode == 1 else result.stderr.splitlines()
    assert len(lines) == len(expected), output
    for pattern in expected:
        assert [line for line in lines if re.fullmatch(pattern, line)], f"no line matches {pattern!r} in:\n{output}"
    if result.returncode == 1:
        for line in lines:
            problem = PROBLEM_LINE.fullmatch(line)
            assert problem is not None, line


@pytest.mark.parametrize("command", COMMANDS)
def test_the_untouched_workspace_passes_validation_and_trips_the_wire(command: str, workspace: Path, tripwire: Tripwire) -> None:
    """The control: without a bad input the same commands validate, then really try the network (so the wire works)."""
    result = detect(*arguments(BadInput("none", lambda _repository: None, ()), command, tripwire), cwd=workspace)
    assert "Traceback" not in result.stdout + result.stderr
    if command == "validate":
        assert result.returncode == 0, result.stdout + result.stderr
    else:
        assert result.returncode != 0
        assert tripwire.contacts, result.stdout + result.stderr


def test_fixture_lines_end_only_at_newline(tmp_path: Path) -> None:
    """U+2028 and U+0085 are legal inside JSON strings; str.splitlines would cut the event in two there."""
    (tmp_path / STEM).mkdir()
    (tmp_path / STEM / "match.ndjson").write_text('{"@timestamp": "now-30m", "file": {"name": "a\u2028b\x85c"}}\n', "utf-8")
    (tmp_path / STEM / "nomatch.ndjson").write_text("", "utf-8")
    rule = Rule.from_document(DSL_RULE, json.loads(DSL_RULE.read_text("utf-8")))
    loaded = load_fixtures(rule, tmp_path, datetime(2026, 1, 1, tzinfo=UTC))
    assert not isinstance(loaded, list), loaded
    assert [event.document["file"]["name"] for event in loaded.events] == ["a\u2028b\x85c"]


@pytest.mark.parametrize("output", ["github", "json"])
@pytest.mark.parametrize("case", [case for case in BAD_INPUT if "validate" in case.commands], ids=lambda case: case.name)
def test_bad_input_in_machine_formats_is_reported_not_crashed_on(case: BadInput, output: str, workspace: Path,
                                                                 tripwire: Tripwire) -> None:
    """The same corpus through validate's CI formats: `--format github` once crashed on a file that is not JSON."""
    case.build(workspace)
    result = detect(*arguments(case, "validate", tripwire), "--format", output, cwd=workspace)
    combined = result.stdout + result.stderr
    assert result.returncode in (1, 2), combined
    assert "Traceback" not in combined and "internal error" not in combined, combined
    if result.returncode == 1 and output == "json":
        assert json.loads(result.stdout)["problems"], combined
    elif result.returncode == 1:
        assert any(line.startswith("::error file=") for line in result.stdout.splitlines()), combined
