#!/usr/bin/env python3
"""Regenerate deployer/rules/ecs-<version>.json, detect's ECS field data, from Elastic's npm package @elastic/ecs.

ECS is never written by hand here: this script reads the package's `EcsFlat` (every ECS field by its flat name, as
Elastic generates it from the elastic/ecs repository) and keeps, per field, what a mapping and a query check need:
the type, `ignore_above`, a normalizer, the multi-fields with their types, `object_type`, `scaling_factor`,
`index`/`doc_values` when false, and whether ECS expects an array. Output is deterministic (sorted, one field per
line) so a version bump reviews as a diff.

    python3 scripts/generate_ecs.py                    # npm pack the pinned version into a temporary folder
    python3 scripts/generate_ecs.py --package DIR      # an unpacked or installed package (its package.json in DIR)
    python3 scripts/generate_ecs.py --check            # exit 1 when the committed file is not what the package gives

The package is evaluated by Node (which npm brings): its ECS table is a JavaScript object, not JSON, and Node reads
it exactly as Elastic's own consumers do. To move to a new ECS version, change ECS_PACKAGE_VERSION and
ECS_PACKAGE_INTEGRITY (`npm view @elastic/ecs@VERSION dist.integrity`), run this script, update ECS_VERSION in
deployer/rules/ecs.py and review the diff.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

ECS_PACKAGE = "@elastic/ecs"
ECS_PACKAGE_VERSION = "9.4.0"
# npm checks the tarball against the registry's record; this pin also catches a registry answering differently.
ECS_PACKAGE_INTEGRITY = "sha512-znk6Jr38KNRsyUKstormNX4QKtqnwQY1EWqrMCWIg/nY6dC1imSxzrdR6xuljxnY6JHj+/9NdTiRohVbeUEA/Q=="
REPO = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = REPO / "deployer" / "rules" / f"ecs-{ECS_PACKAGE_VERSION}.json"

# The package's main module exports EcsFlat and EcsVersion (its generated/*.js copies are older and smaller).
READ_PACKAGE_JS = """
const ecs = require(process.argv[1]);
process.stdout.write(JSON.stringify({version: ecs.EcsVersion, fields: ecs.EcsFlat}));
"""


class GenerationError(Exception):
    """The package is not the pinned one, or not what this script knows how to read."""


def fetch_package(folder: Path) -> Path:
    """`npm pack` the pinned version into `folder`, unpack it, and return the package folder."""
    packed = subprocess.run(["npm", "pack", "--json", "--silent", "--pack-destination", str(folder),
                             f"{ECS_PACKAGE}@{ECS_PACKAGE_VERSION}"],
                            capture_output=True, text=True, check=True, timeout=300, stdin=subprocess.DEVNULL)
    (tarball,) = json.loads(packed.stdout)
    if tarball["integrity"] != ECS_PACKAGE_INTEGRITY:
        raise GenerationError(f"{ECS_PACKAGE}@{ECS_PACKAGE_VERSION} has integrity {tarball['integrity']}, "
                              f"not the pinned {ECS_PACKAGE_INTEGRITY}")
    subprocess.run(["tar", "-xzf", tarball["filename"]], cwd=folder, check=True, timeout=120)
    return folder / "package"


def read_package(package: Path) -> tuple[dict[str, Any], str]:
    """The package's flat ECS fields and its NOTICE text, after checking its name, version and licence."""
    manifest = json.loads((package / "package.json").read_text("utf-8"))
    if (manifest.get("name"), manifest.get("version")) != (ECS_PACKAGE, ECS_PACKAGE_VERSION):
        raise GenerationError(f"{package} holds {manifest.get('name')}@{manifest.get('version')}, "
                              f"not the pinned {ECS_PACKAGE}@{ECS_PACKAGE_VERSION}")
    # package.json says only "SEE LICENSE IN LICENSE FILE": the file itself must still be Apache 2.0.
    licence = " ".join((package / "LICENSE").read_text("utf-8").split())
    if not licence.startswith("Apache License Version 2.0, January 2004"):
        raise GenerationError(f"{package}/LICENSE is no longer the Apache License 2.0: check before redistributing")
    notice = " ".join((package / "NOTICE.txt").read_text("utf-8").split())
    evaluated = subprocess.run(["node", "-e", READ_PACKAGE_JS, str(package.resolve())],
                               capture_output=True, text=True, check=True, timeout=120, stdin=subprocess.DEVNULL)
    exported = json.loads(evaluated.stdout)
    if exported["version"] != ECS_PACKAGE_VERSION:
        raise GenerationError(f"the package exports EcsVersion {exported['version']}, not {ECS_PACKAGE_VERSION}")
    fields: dict[str, Any] = exported["fields"]
    return fields, notice


def compact_field(flat_name: str, field: Mapping[str, Any]) -> dict[str, Any]:
    """What detect keeps of one EcsFlat entry; keys absent mean Elastic's defaults (indexed, doc values, no array)."""
    if field["flat_name"] != flat_name:
        raise GenerationError(f"EcsFlat key {flat_name!r} names the field {field['flat_name']!r}")
    kept: dict[str, Any] = {"type": field["type"]}
    for key in ("ignore_above", "normalizer", "object_type", "scaling_factor"):
        if key in field:
            kept[key] = field[key]
    for key in ("index", "doc_values"):
        if field.get(key) is False:
            kept[key] = False
    if "array" in field.get("normalize", []):
        kept["array"] = True
    multi_fields = {}
    for multi_field in field.get("multi_fields", []):
        if multi_field["flat_name"] != f"{flat_name}.{multi_field['name']}":
            raise GenerationError(f"{flat_name}: multi-field {multi_field['flat_name']!r} is not under the field")
        multi_fields[multi_field["name"]] = multi_field["type"]
    if multi_fields:
        kept["multi_fields"] = multi_fields
    return kept


def render(fields: Mapping[str, Any], notice: str) -> str:
    """The data file: a header naming source, version and licence, then one field per line, sorted."""
    header = {
        "ecs_version": ECS_PACKAGE_VERSION,
        "source": f"npm package {ECS_PACKAGE}@{ECS_PACKAGE_VERSION} (EcsFlat), by scripts/generate_ecs.py: do not edit",
        "license": "Apache-2.0",
        "notice": notice,
        "field_count": len(fields),
    }
    lines = [f"{json.dumps(key)}: {json.dumps(value, ensure_ascii=False)}," for key, value in header.items()]
    body = [f"{json.dumps(name)}: {json.dumps(compact_field(name, fields[name]), sort_keys=True)}" for name in sorted(fields)]
    return "{\n" + "\n".join(lines) + '\n"fields": {\n' + ",\n".join(body) + "\n}\n}\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--package", type=Path, help=f"an unpacked {ECS_PACKAGE}@{ECS_PACKAGE_VERSION} (default: npm pack it)")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="the data file (default: %(default)s)")
    parser.add_argument("--check", action="store_true", help="compare with --output instead of writing it")
    arguments = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="ecs-package-") as scratch:
        try:
            package = arguments.package or fetch_package(Path(scratch))
            text = render(*read_package(package))
        except GenerationError as error:
            print(f"generate_ecs: {error}", file=sys.stderr)
            return 2
    if arguments.check:
        if not arguments.output.is_file() or arguments.output.read_text("utf-8") != text:
            print(f"generate_ecs: {arguments.output} is not what {ECS_PACKAGE}@{ECS_PACKAGE_VERSION} gives: "
                  "run python3 scripts/generate_ecs.py", file=sys.stderr)
            return 1
        return 0
    arguments.output.write_text(text, "utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
