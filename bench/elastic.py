"""Validation of a thousand rules like Elastic's prebuilt EQL rules (issue 13: "validating a thousand such rules stays
within today's per-rule cost").

The rules are built at run time from the shared sample of Elastic's prebuilt rules (never copied into the project):
`detect import` of the sample into a temporary folder, then copies of the EQL rules that validate as imported, each
with a fresh rule_id, name and file name."""

from __future__ import annotations

import json
import os
import pstats
import random
import re
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.measure import DETECT, Run, child_env, run

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO.parent / "shared" / "corpus" / "elastic-prebuilt-sample.ndjson"


@dataclass(frozen=True)
class Imported:
    written: int  # rule files `detect import` wrote (the sample's EQL rules)
    skipped: int
    templates: list[Path]  # the written files that validate as imported
    invalid: dict[str, str]  # file name -> its first problem, for the written files that do not


def import_sample(folder: Path) -> Imported:
    """`detect import` of the Elastic sample into folder/detections, and which of the written rules validate."""
    (folder / "detections").mkdir(parents=True)
    imported = run([*DETECT, "import", str(SAMPLE), "--into", "detections"], cwd=folder)
    # Exit 1 is expected: the sample holds rule types detect does not (yet) hold, and they are skipped.
    written = sorted((folder / "detections").glob("*.json"))
    if not written:
        raise RuntimeError(f"detect import wrote no rule (exit {imported.returncode}): {imported.stdout[-800:]}")
    summary = re.search(r"(\d+) skipped", imported.stdout + imported.stderr)  # import's counted summary
    skipped = int(summary.group(1)) if summary else 0
    checked = run([*DETECT, "validate", "--format", "json", "detections"], cwd=folder,
                  env={**os.environ, "DETECT_VALIDATION_CACHE": "off"})
    report = json.loads(checked.stdout)
    valid = {Path(rule["file"]).name for rule in report["rules"]}
    invalid: dict[str, str] = {}
    for problem in report["problems"]:
        invalid.setdefault(Path(problem["file"]).name, problem["message"])
    return Imported(len(written), skipped, [path for path in written if path.name in valid], invalid)


def write_copies(templates: list[Path], folder: Path, count: int, *, distinct_values: bool, seed: int = 13) -> None:
    """`count` rules in folder, copies of `templates` in turn, each with a fresh rule_id, name and file name.

    Every copy's query text differs from the others' (trailing spaces: none for the first copy of each template, one
    for the second, ...), so detect's per-text parse cache (dialects/eql.py `parse_eql`) reuses nothing, as with a
    thousand different rules. The checks of each string value (Lucene wildcard and regexp complexity, lucene_limits)
    are cached per value too; with `distinct_values` every copy after a template's first also shifts two letters of
    the last word of each string (`"cmd.exe"` -> `"cmd.exf"`, `"cmd.exg"`, ...: same length, same wildcards, same
    structure), as in Elastic's rules, whose values rarely repeat (`string_values` counts them in the sample)."""
    rng = random.Random(seed)
    documents = [json.loads(path.read_text("utf-8")) for path in templates]
    folder.mkdir(parents=True, exist_ok=True)
    for number in range(count):
        round_, which = divmod(number, len(templates))
        document = dict(documents[which])
        document["rule_id"] = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        document["name"] = f"{document['name']} copy {number}"
        query = _shifted_values(document["query"], round_) if distinct_values else document["query"]
        document["query"] = query.rstrip("\n") + " " * round_ + "\n"
        path = folder / f"{templates[which].stem}_{number:04}.json"
        path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", "utf-8")


_STRING = re.compile(r'"""[\s\S]*?"""|"(?:[^"\\\n]|\\.)*"')  # EQL's raw and quoted strings
_WORD = re.compile(r"[A-Za-z]{3,}")  # never an escape (\\d) or a class bound ([a-z]): those are one letter


def _shifted_values(query: str, round_: int) -> str:
    """The query with the last two letters of the last word of every string shifted by (round_ // 26, round_ % 26)."""
    if round_ == 0:
        return query

    def shifted(match: re.Match[str]) -> str:
        text = match.group(0)
        words = list(_WORD.finditer(text))
        if not words:
            return text
        end = words[-1].end()
        return text[:end - 2] + _shift(text[end - 2], round_ // 26) + _shift(text[end - 1], round_ % 26) + text[end:]

    return _STRING.sub(shifted, query)


def _shift(letter: str, by: int) -> str:
    base = ord("a") if letter.islower() else ord("A")
    return chr(base + (ord(letter) - base + by) % 26)


def string_values(templates: list[Path]) -> tuple[int, int]:
    """How many strings the templates' queries hold, and how many distinct ones."""
    strings = [match.group(0) for path in templates for match in _STRING.finditer(json.loads(path.read_text("utf-8"))["query"])]
    return len(strings), len(set(strings))


def wildcard_costs(templates: list[Path]) -> list[tuple[float, str]]:
    """Seconds of detect's Lucene wildcard complexity check for each distinct wildcard value of the templates' queries,
    uncached, in this process; slowest first. The values are what rules/semantics.py `_field_findings` checks: each
    wildcard use of the parsed query, its backslashes doubled (EQL's are no escapes), case-insensitively."""
    import time

    from deployer.dialects.eql import parse_eql
    from deployer.dialects.lucene_limits import wildcard_too_complex

    values = {str(use.value).replace("\\", "\\\\") for path in templates
              for use in parse_eql(json.loads(path.read_text("utf-8"))["query"]).uses if use.kind == "wildcard"}
    costs = []
    for value in sorted(values):
        started = time.perf_counter()
        wildcard_too_complex.__wrapped__(value, True)
        costs.append((time.perf_counter() - started, value))
    return sorted(costs, reverse=True)


def mean_query_chars(folder: Path) -> float:
    queries = [json.loads(path.read_text("utf-8"))["query"].rstrip() for path in sorted(folder.rglob("*.json"))]
    return sum(map(len, queries)) / len(queries)


# Where a cold validation's time goes: what, and the functions that hold it (file, name, only when called from this
# function). Cumulative times of the outermost calls, so a share holds what the functions call.
Function = tuple[str, str, str | None]
COSTS: tuple[tuple[str, tuple[Function, ...]], ...] = (
    ("EQL parse in all (`parse_eql`, once per distinct query text)", (("deployer/dialects/eql.py", "parse_eql", None),)),
    ("... `import eql` (builds its grammar's parser tables, once)", (("eql/__init__.py", "<module>", None),)),
    ("... lark LALR parse of the query", (("lark/lark.py", "parse", "_parse"),)),
    ("... `eql`'s AST builder (`LarkToEQL`, field re-parses included)", (("eql/parser.py", "visit", "_parse"),)),
    ("... ... of which `eql` re-parsing every field name with lark (`_field_path`)", (("eql/parser.py", "_field_path", None),)),
    ("... `eql`'s optimizer (`Optimizer.walk`)", (("eql/optimizer.py", "walk", "_parse"),)),
    ("... detect's reads of the trees (`es_facts`, `_field_uses`, `_escape_findings`)",
     (("deployer/dialects/eql_es.py", "es_facts", None), ("deployer/dialects/eql.py", "_field_uses", None),
      ("deployer/dialects/eql.py", "_escape_findings", None))),
    ("Lucene wildcard complexity (`wildcard_too_complex`, once per distinct value)",
     (("deployer/dialects/lucene_limits.py", "wildcard_too_complex", None),)),
    ("... determinizing the automata (`determinize`, before and after the UTF-8 conversion; regexps' included)",
     (("deployer/dialects/lucene_automaton.py", "determinize", "_compile"),)),
    ("... converting them to UTF-8 bytes (`utf32_to_utf8`; regexps' included)",
     (("deployer/dialects/lucene_utf8.py", "utf32_to_utf8", "_compile"),)),
    ("Lucene regexp checks (`check_regexp`, `too_complex`)",
     (("deployer/dialects/lucene.py", "check_regexp", None), ("deployer/dialects/lucene_limits.py", "too_complex", None))),
    ("fields by index pattern (`rule_fields`: ECS and data sources)", (("deployer/rules/fields.py", "rule_fields", None),)),
    ("ECS table loaded (`ecs_fields`, once)", (("deployer/rules/ecs.py", "ecs_fields", None),)),
    ("JSON Schema (`schema_problems`)", (("deployer/rules/schema.py", "schema_problems", None),)),
    ("reading and parsing the files (`load_rules`)", (("deployer/rules/files.py", "load_rules", None),)),
    ("Rule model (`Rule.from_document`)", (("deployer/rules/model.py", "from_document", None),)),
)


def _cumulative(stats: dict[Any, Any], file: str, name: str, caller: str | None) -> float:
    total = 0.0
    for (path, _line, function), (_calls, _primitive, _own, cumulative, callers) in stats.items():
        if function != name or not path.endswith(file):
            continue
        if caller is None:
            total += cumulative
        else:
            total += sum(timing[3] for (_p, _l, calling), timing in callers.items() if calling == caller)
    return total


def profile_shares(folder: Path) -> tuple[float, list[tuple[str, float]]]:
    """cProfile of one cold `detect validate detections` in folder: its total (profiled) seconds, and each cost's share."""
    output = folder / "validate.prof"
    command = [DETECT[0], "-m", "cProfile", "-o", str(output), "-m", "deployer", "validate", "detections"]
    subprocess.run(command, cwd=folder, env=child_env({**os.environ, "DETECT_VALIDATION_CACHE": "off"}), check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    stats: dict[Any, Any] = pstats.Stats(str(output)).stats  # type: ignore[attr-defined]
    total = _cumulative(stats, "deployer/__main__.py", "<module>", None)
    return total, [(what, sum(_cumulative(stats, *function) for function in functions) / total) for what, functions in COSTS]


@dataclass(frozen=True)
class Variant:
    distinct_values: bool
    query_chars: float
    cold: Run
    one: Run  # one of the rules, cold: start-up and the one-off costs
    warm: Run
    profiled_seconds: float
    shares: list[tuple[str, float]]


@dataclass(frozen=True)
class ElasticResults:
    imported: Imported
    strings: tuple[int, int]  # string values in the templates' queries: all, distinct
    wildcards: list[tuple[float, str]]  # `wildcard_costs` of the templates
    variants: list[Variant]


def elastic_results(workdir: Path, count: int, runs: int) -> ElasticResults:
    imported = import_sample(workdir / "elastic-import")
    if not imported.templates:
        raise RuntimeError(f"none of the {imported.written} imported EQL rules validates: {imported.invalid}")
    variants = [_variant(workdir, imported.templates, count, runs, distinct_values) for distinct_values in (False, True)]
    return ElasticResults(imported, string_values(imported.templates), wildcard_costs(imported.templates), variants)


def _variant(workdir: Path, templates: list[Path], count: int, runs: int, distinct_values: bool) -> Variant:
    from bench.measure import timed_run

    root = workdir / ("elastic-distinct" if distinct_values else "elastic-copies")
    write_copies(templates, root / "detections", count, distinct_values=distinct_values)
    cold = {**os.environ, "DETECT_VALIDATION_CACHE": "off"}
    checked = run([*DETECT, "validate", "--format", "json", "detections"], cwd=root, env=cold)
    valid = len(json.loads(checked.stdout)["rules"]) if checked.stdout.strip() else 0
    if checked.returncode != 0 or valid != count:
        raise RuntimeError(f"the copies must be valid: {valid} of {count} rules are; {checked.stdout[-800:]}")
    first = min((root / "detections").glob("*.json"))
    every = timed_run([*DETECT, "validate", "detections"], runs, cwd=root, env=cold)
    one = timed_run([*DETECT, "validate", str(first)], runs, cwd=root, env=cold)
    warm = timed_run([*DETECT, "validate", "detections"], runs, cwd=root,
                     env={**os.environ, "DETECT_VALIDATION_CACHE": str(root / "validated")})
    profiled, shares = profile_shares(root)
    return Variant(distinct_values, mean_query_chars(root / "detections"), every, one, warm, profiled, shares)
