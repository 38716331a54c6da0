"""Fixtures: the events a rule must alert on (match.ndjson) and must not (nomatch.ndjson), placed in time.

Absolute timestamps are moved, keeping their spacing, so that the events sit in the middle of the rule's
lookback window at the instant of the test; `now-75m` style timestamps stay relative to that instant, which
lets a fixture sit outside the window on purpose.
"""

from __future__ import annotations

import copy
import ipaddress
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from deployer.errors import Problem, display_path, pointer_of
from deployer.rules.fields import Fields, rule_fields
from deployer.rules.files import read_bounded
from deployer.rules.jsontext import InvalidJson, parse_json
from deployer.rules.model import Duration, Rule

DEFAULT_FIXTURES_DIR = Path("fixtures")
FIXTURE_FILES = {"match.ndjson": True, "nomatch.ndjson": False}
# Fixture files hold a few hundred events; a larger file is a mistake, and refusing it early bounds memory.
MAX_FIXTURE_BYTES = 16 * 1024 * 1024
_RELATIVE = re.compile(r"^now(?:-([1-9][0-9]*[smhd]))?$")


@dataclass(frozen=True)
class FixtureEvent:
    """One fixture line: where it comes from, whether the rule must alert on it, the document to index."""

    file: str
    line: int
    expected: bool
    document: dict[str, Any]

    @property
    def event_id(self) -> str:
        """The document id in the test index; reports name events by it (`match.ndjson:3`)."""
        return f"{Path(self.file).name}:{self.line}"


@dataclass(frozen=True)
class RuleFixtures:
    rule: Rule
    folder: Path
    events: tuple[FixtureEvent, ...]


def fixture_folder(rule: Rule, root: Path) -> Path:
    return root / rule.path.stem


def load_fixtures(rule: Rule, root: Path, instant: datetime) -> RuleFixtures | list[Problem]:
    """The rule's fixture events with timestamps placed relative to `instant` (the run's period end)."""
    folder = fixture_folder(rule, root)
    if not folder.is_dir():
        return [Problem(display_path(folder), "", f"no fixtures for rule {rule.rule_id}: expected match.ndjson and nomatch.ndjson here")]
    raw, problems = _read_events(rule, root)
    if problems:
        return problems
    placed = place_in_window(rule, [document["@timestamp"] for _, _, _, document in raw], instant)
    if isinstance(placed, str):
        return [Problem(display_path(folder), "", placed)]
    events = []
    for (shown, number, expected, document), timestamp in zip(raw, placed, strict=True):
        document = copy.deepcopy(document)
        document["@timestamp"] = timestamp.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        events.append(FixtureEvent(shown, number, expected, document))
    return RuleFixtures(rule, folder, tuple(events))


def split_by_fixtures(rules: list[Rule], root: Path) -> tuple[list[Rule], list[Rule]]:
    """The rules with a fixture folder, and those without one: a rule nobody wrote fixtures for yet (an imported
    one, say) is not proven rather than failed, unless the proof requires fixtures (`load_fixtures` then names the
    missing folder as a problem)."""
    found = [fixture_folder(rule, root).is_dir() for rule in rules]
    return ([rule for rule, has in zip(rules, found, strict=True) if has],
            [rule for rule, has in zip(rules, found, strict=True) if not has])


def check_fixtures(rule: Rule, root: Path) -> list[Problem]:
    """What `detect test` would refuse in the rule's fixture folder, without a node or a run instant.

    A rule without a fixture folder has nothing to check here (only `detect test` needs one)."""
    if not fixture_folder(rule, root).is_dir():
        return []
    return _read_events(rule, root)[1]


def fixture_bytes(rule_path: Path, root: Path) -> bytes | None:
    """The names and contents of the fixture files of the rule file at `rule_path`, for the record of valid rules;
    None when a file cannot be read."""
    folder = root / rule_path.stem
    if not folder.is_dir():
        return b""
    parts = [str(root.resolve()).encode()]
    for name in FIXTURE_FILES:
        path = folder / name
        if path.is_file():
            raw = read_bounded(path, MAX_FIXTURE_BYTES, "a fixture file")
            if isinstance(raw, Problem):
                return None
            parts += [name.encode(), raw]
    return b"\0".join(parts)


Line = tuple[str, int, bool, dict[str, Any]]  # (file as shown, line number, must alert, event)


def _read_events(rule: Rule, root: Path) -> tuple[list[Line], list[Problem]]:
    """Every event of the rule's fixture files, and every problem in them, each named `file:line` and pointer."""
    folder = fixture_folder(rule, root)
    source = rule_fields(rule)
    problems: list[Problem] = []
    raw: list[Line] = []
    for name, expected in FIXTURE_FILES.items():
        path = folder / name
        shown = display_path(path)
        if not path.is_file():
            problems.append(Problem(shown, "", "missing fixture file"))
            continue
        text = _read_fixture_file(path, root)
        if isinstance(text, Problem):
            problems.append(text)
            continue
        events = 0
        # Lines end at "\n" only: str.splitlines would also split inside strings holding U+2028 or U+0085.
        for number, line in enumerate(text.split("\n"), start=1):
            if not line.strip():
                continue
            events += 1
            try:
                document = parse_json(line)
            except InvalidJson as error:
                where = f"invalid JSON at column {error.column}: {error.reason}" if error.column else error.message
                problems.append(Problem(shown, error.pointer, where, line=number))
                continue
            if not isinstance(document, dict):
                problems.append(Problem(shown, "", "an event is a JSON object with an \"@timestamp\" string", line=number))
                continue
            found = event_problems(document, source) if source is not None else []
            problems += [Problem(shown, pointer, message, line=number) for pointer, message in found]
            if not found:
                raw.append((shown, number, expected, document))
        if expected and events == 0:
            problems.append(Problem(shown, "", "no event the rule must alert on: a proof with nothing that must "
                                                "alert proves nothing; add at least one event"))
    return raw, problems


def event_problems(document: dict[str, Any], source: Fields) -> list[tuple[str, str]]:
    """(pointer, message) for each thing an engine would refuse or misread in one fixture event.

    The test index maps the fields the rule may name (dynamic: strict), so a field outside them, a value of the
    wrong type or a dotted key would fail at indexing, after a node start, as the engine's own answer."""
    found: list[tuple[str, str]] = []
    stamp = document.get("@timestamp")
    if not isinstance(stamp, str):
        found.append(("/@timestamp", "an event is a JSON object with an \"@timestamp\" string"))
    elif not _RELATIVE.match(stamp) and _iso_datetime(stamp) is None:
        found.append(("/@timestamp", f"{stamp!r} is neither ISO 8601 (2024-03-12T09:02:14.512Z) nor now-<n><s|m|h|d>"))
    _object_problems(document, [], source, found)
    return found


def _object_problems(node: dict[str, Any], parents: list[str], source: Fields, found: list[tuple[str, str]]) -> None:
    for key, value in node.items():
        parts = [*parents, key]
        pointer = pointer_of(parts)
        if "." in key:
            nested = "{" + "".join(f'"{part}": {{' for part in key.split(".")[:-1]) + f'"{key.split(".")[-1]}": ...' + \
                "}" * key.count(".") + "}"
            found.append((pointer, f"dotted key {key!r}: write nested objects, {nested}, as the events are indexed"))
            continue
        field = ".".join(parts)
        if field == "@timestamp":
            continue
        field_type = source.field_types.get(field)
        if field_type in ("object", "flattened", "nested"):
            continue  # keys of the user's own (ECS labels.*): the test index maps them as they come
        values = value if isinstance(value, list) else [value]
        if field_type is not None:
            for index, item in enumerate(values):
                message = _type_problem(item, field_type)
                if message:
                    where = pointer_of([*parts, index]) if isinstance(value, list) else pointer
                    found.append((where, f"{field} is a {field_type} field in {source.where(field)}: {message}"))
        elif field in source.objects:
            for index, item in enumerate(values):
                if isinstance(item, dict):
                    _object_problems(item, parts, source, found)
                elif item is not None:
                    where = pointer_of([*parts, index]) if isinstance(value, list) else pointer
                    found.append((where, f"{field} holds fields in {source.described}: expected an object, "
                                         f"got {_json_type(item)}"))
        else:
            found.append((pointer, f"field {field!r} is not in {source.described}"))


_INTEGER_TYPES = {"long": 63, "integer": 31, "short": 15, "byte": 7}
_NUMBER = re.compile(r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")


def _type_problem(value: Any, field_type: str) -> str | None:
    """Why the engines' default mapping of `field_type` would refuse `value` (None: it indexes it)."""
    if value is None:
        return None  # a null is not indexed, as the engines do
    if isinstance(value, (dict, list)):
        return f"expected a single value, got {_json_type(value)}"
    if field_type in _INTEGER_TYPES or field_type in ("double", "float", "half_float", "scaled_float"):
        # The engines coerce numeric strings ("4242") and cut fractions; a word or a boolean they refuse.
        number = value if isinstance(value, (int, float)) and not isinstance(value, bool) else \
            float(value) if isinstance(value, str) and _NUMBER.fullmatch(value.strip()) else None
        if number is None:
            return f"expected a number, got {_json_type(value)} {json.dumps(value)}"
        bits = _INTEGER_TYPES.get(field_type)
        if bits is not None and not -(2 ** bits) <= int(number) < 2 ** bits:
            return f"{json.dumps(value)} is out of the {field_type} range"
        return None
    if field_type == "date":
        if isinstance(value, int) and not isinstance(value, bool):
            return None  # epoch milliseconds
        if isinstance(value, str) and (value.isdigit() or _iso_datetime(value) is not None):
            return None
        return f"expected an ISO 8601 date (2024-03-12T09:02:14.512Z) or epoch milliseconds, got {json.dumps(value)}"
    if field_type == "boolean":
        return None if value in (True, False, "true", "false", "") else f"expected true or false, got {json.dumps(value)}"
    if field_type == "ip":
        try:
            ipaddress.ip_address(value if isinstance(value, str) else "")
        except ValueError:
            return f"expected an IP address, got {json.dumps(value)}"
        return None
    return None  # keyword, text and the like index any string, number or boolean as its text


def _iso_datetime(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def _json_type(value: Any) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean", int: "a number",
            float: "a number"}.get(type(value), type(value).__name__)


def _read_fixture_file(path: Path, root: Path) -> str | Problem:
    shown = display_path(path)
    if not path.resolve().is_relative_to(root.resolve()):
        return Problem(shown, "", f"symlink to {path.resolve()}, outside the fixtures folder {display_path(root)}")
    raw = read_bounded(path, MAX_FIXTURE_BYTES, "a fixture file")
    if isinstance(raw, Problem):
        return raw
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw.count(b"\n", 0, error.start) + 1
        return Problem(shown, "", f"not UTF-8: invalid byte at offset {error.start}", line=line)


def place_in_window(rule: Rule, stamps: list[str], instant: datetime) -> list[datetime] | str:
    """Absolute stamps shifted into the middle of the window; relative ones resolved; or why that is impossible."""
    end = rule.schedule.lookback_end
    try:
        window_start = instant - timedelta(seconds=rule.schedule.lookback_start.seconds)
        window_end = instant - timedelta(seconds=end.seconds if end else 0)
    except OverflowError:
        return f"the rule's window (from {rule.schedule.start_text}) reaches before the year 1: no event can be placed in it"
    absolute: dict[int, datetime] = {}
    resolved: dict[int, datetime] = {}
    for index, stamp in enumerate(stamps):
        relative = _RELATIVE.match(stamp)
        if relative:
            try:
                offset = Duration.parse(relative.group(1)).seconds if relative.group(1) else 0
                resolved[index] = instant - timedelta(seconds=offset)
            except (OverflowError, ValueError):  # ValueError: more digits than int() reads
                return f"event {index + 1}: @timestamp {stamp!r} lies before the year 1"
            continue
        moment = _iso_datetime(stamp)
        if moment is None:  # refused per line by _read_events already; kept for callers with their own stamps
            return f"event {index + 1}: @timestamp {stamp!r} is neither ISO 8601 nor now-<n><s|m|h|d>"
        absolute[index] = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    if absolute:
        first, last = min(absolute.values()), max(absolute.values())
        span = last - first
        room = window_end - window_start
        if span >= room:
            return f"absolute timestamps span {span}, longer than the rule's window ({room}): they cannot all fall inside it"
        shift = window_start + (room - span) / 2 - first
        resolved.update({index: moment + shift for index, moment in absolute.items()})
    return [resolved[index] for index in range(len(stamps))]
