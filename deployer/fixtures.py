"""Fixtures: the events a rule must alert on (match.ndjson) and must not (nomatch.ndjson), placed in time.

Absolute timestamps are moved, keeping their spacing, so that the events sit in the middle of the rule's
lookback window at the instant of the test; `now-75m` style timestamps stay relative to that instant, which
lets a fixture sit outside the window on purpose.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from deployer.errors import Problem, display_path
from deployer.jsontext import InvalidJson, parse_json
from deployer.load import read_bounded
from deployer.model import Duration, Rule

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
    problems: list[Problem] = []
    raw: list[tuple[str, int, bool, dict[str, Any]]] = []
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
        # Lines end at "\n" only: str.splitlines would also split inside strings holding U+2028 or U+0085.
        for number, line in enumerate(text.split("\n"), start=1):
            if not line.strip():
                continue
            try:
                document = parse_json(line)
            except InvalidJson as error:
                where = f"invalid JSON at column {error.column}: {error.reason}" if error.column else error.message
                problems.append(Problem(shown, f"line {number}", f"{error.pointer}: {where}" if error.pointer else where))
                continue
            if not isinstance(document, dict) or not isinstance(document.get("@timestamp"), str):
                problems.append(Problem(shown, f"line {number}", "an event is a JSON object with an \"@timestamp\" string"))
                continue
            raw.append((shown, number, expected, document))
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
        return Problem(shown, f"line {line}", f"not UTF-8: invalid byte at offset {error.start}")


def place_in_window(rule: Rule, stamps: list[str], instant: datetime) -> list[datetime] | str:
    """Absolute stamps shifted into the middle of the window; relative ones resolved; or why that is impossible."""
    end = rule.schedule.lookback_end
    try:
        window_start = instant - timedelta(seconds=rule.schedule.lookback_start.seconds)
        window_end = instant - timedelta(seconds=end.seconds if end else 0)
    except OverflowError:
        return f"the rule's window (from {rule.get('from')}) reaches before the year 1: no event can be placed in it"
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
        try:
            moment = datetime.fromisoformat(stamp)
        except ValueError:
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
