"""Realistic generated rules: variations of the two real rules in detections/, each one valid."""

from __future__ import annotations

import copy
import json
import random
import shutil
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
DSL_TEMPLATE = REPO / "detections" / "windows_app_layer_protocol_qakbot_namedpipe.json"
EQL_TEMPLATE = REPO / "detections" / "windows_app_layer_protocol_qakbot_namedpipe_eql.json"
FIXTURES = REPO / "fixtures"
DATASOURCES = REPO / "datasources"  # the team's data sources, which the two real rules name (windows.sysmon_operational)

BINARIES = ("calc", "notepad", "rdpclip", "explorer", "wermgr", "ping", "OneDriveSetup", "dxdiag", "mobsync", "msra",
            "xwizard", "rundll32", "regsvr32", "mshta", "wscript", "cscript", "svchost", "dllhost", "werfault", "spoolsv")
# Lucene regexps of named pipes used by malware families (no PCRE habits: these must validate cleanly); NUM
# stands for a repetition count drawn per rule (8 to 39), so the corpus holds a couple of hundred distinct ones.
PIPE_REGEXPS = (
    r"\\\{[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{NUM}.*",
    r"\\(MSSE|postex|status|msagent)_[0-9a-f]{2,NUM}(-server)?",
    r"\\mojo\.[0-9]+\.[0-9]+\.[0-9]{1,NUM}",
    r"\\PSHost\.[0-9]+\.[0-9]+\.DefaultAppDomain\.[a-z]{1,NUM}",
    r"\\Winsock2\\CatalogChangeListener-[0-9a-f]{3,NUM}-[0-9]",
    r"\\[a-z]{6,NUM}_[0-9]{2,5}",
    r"\\(win|lsa|sam)_[0-9a-fA-F]{NUM}",
)
SEVERITIES = (("low", 21), ("medium", 47), ("high", 73), ("critical", 99))


def _pick(rng: random.Random, count: int) -> list[str]:
    return rng.sample(BINARIES, count)


def _regexp(rng: random.Random) -> str:
    return rng.choice(PIPE_REGEXPS).replace("NUM", str(rng.randrange(8, 40)))


def _common(document: dict[str, Any], rng: random.Random, number: int) -> None:
    document["rule_id"] = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    document["name"] = f"{document['name']} variant {number}"
    severity, top = rng.choice(SEVERITIES)
    document["severity"], document["risk_score"] = severity, top - rng.randrange(10)
    if rng.random() < 0.3:
        document["exclusions"] = [{"field": "host.name", "values": [f"LAB-{rng.randrange(100):02}"], "reason": "lab host"}]


def dsl_variant(template: dict[str, Any], rng: random.Random, number: int) -> dict[str, Any]:
    document = copy.deepcopy(template)
    _common(document, rng, number)
    filters = document["query"]["bool"]["filter"]
    filters[0]["terms"]["event.code"] = rng.choice((["17", "18"], ["17"], ["18"]))
    filters[2]["bool"]["should"] = [
        {"wildcard": {"process.executable": {"value": f"*\\\\{name}.exe", "case_insensitive": True}}}
        for name in _pick(rng, rng.randrange(3, 12))
    ]
    filters[3]["regexp"]["file.name"]["value"] = _regexp(rng)
    return document


def eql_variant(template: dict[str, Any], rng: random.Random, number: int) -> dict[str, Any]:
    document = copy.deepcopy(template)
    _common(document, rng, number)
    codes = ", ".join(f'"{code}"' for code in rng.choice((["17", "18"], ["17"], ["18"])))
    images = ", ".join(f'"*\\\\{name}.exe"' for name in _pick(rng, rng.randrange(3, 12)))
    matcher = rng.choice((":", "like~"))
    regex, regexp = rng.choice(("regex", "regex~")), _regexp(rng)
    document["query"] = (f"file where event.code in ({codes}) and winlog.event_data.EventType in (\"CreatePipe\", \"ConnectPipe\") "
                         f"and\n  process.executable {matcher} ({images}) and\n  file.name {regex} \"\"\"{regexp}\"\"\"")
    return document


def write_datasources(root: Path) -> None:
    """The repository's data sources into root/datasources, beside the rules, where detect run in root reads them."""
    shutil.copytree(DATASOURCES, root / "datasources", dirs_exist_ok=True)


def write_corpus(folder: Path, count: int, *, seed: int = 6) -> list[Path]:
    """`count` rules, half query DSL (in folder/dsl) and half EQL (folder/eql), written as the real files are."""
    rng = random.Random(seed)
    templates = (json.loads(DSL_TEMPLATE.read_text("utf-8")), json.loads(EQL_TEMPLATE.read_text("utf-8")))
    for language in ("dsl", "eql"):
        (folder / language).mkdir(parents=True, exist_ok=True)
    paths = []
    for number in range(count):
        is_eql = number % 2 == 1
        document = (eql_variant if is_eql else dsl_variant)(templates[is_eql], rng, number)
        language = "eql" if is_eql else "dsl"
        path = folder / language / f"rule_{number:05}_{language}.json"
        path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", "utf-8")
        paths.append(path)
    return paths


def write_provable(root: Path, count: int) -> None:
    """`count` copies of the real rules under root/detections (new rule_id and name, same query), each with the real
    rules' fixtures under root/fixtures, so `detect test` proves every one of them."""
    rng = random.Random(count)
    (root / "detections").mkdir(parents=True, exist_ok=True)
    write_datasources(root)
    for number in range(count):
        template = EQL_TEMPLATE if number % 2 else DSL_TEMPLATE
        document = json.loads(template.read_text("utf-8"))
        document["rule_id"] = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        document["name"] = f"{document['name']} copy {number}"
        stem = f"{template.stem}_{number:04}"
        (root / "detections" / f"{stem}.json").write_text(json.dumps(document, indent=2) + "\n", "utf-8")
        shutil.copytree(FIXTURES / template.stem, root / "fixtures" / stem)
