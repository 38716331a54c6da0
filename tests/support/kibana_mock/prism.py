"""A validating mock of Kibana's detection engine API: Stoplight Prism serving Kibana's own OpenAPI description.

Kibana cannot run here, so the requests detect sends are checked against Kibana's official OpenAPI 3.0.3
description of the detections API (the file named by ``$DETECT_KIBANA_OPENAPI``) by ``prism mock --errors``,
which answers 422 to a request the description does not allow and a schema-shaped 200 otherwise.

Installation: the first use runs ``npm install --prefix <cache>/prism/<version> @stoplight/prism-cli@<version>``
(``<cache>`` is :func:`deployer.cache.cache_root`); later uses reuse it.  ``PRISM_VERSION`` is 5.14.2,
the newest 5.x that runs on this machine's Node 20: 5.15.x and 5.16.0 declare ``node >= 24.14``.

    with prism_mock(contract_path()) as base_url:          # http://127.0.0.1:<free port>
        httpx.post(f"{base_url}/api/detection_engine/rules", json=payload, headers=...)

    with running_prism(spec, log_dir=tmp) as server:       # the same, with server.url and server.log_path
        ...

Start-up takes about 5 s (Prism parses and dereferences the 468 kB description), the install about 20 s.
Prism's output goes to ``<log_dir>/prism.log`` (a kept temporary folder unless ``log_dir`` is given), named in
every :class:`PrismError`.  At exit the whole process group is terminated (then killed after 5 s).

What Prism checks, found by probing Prism 5.14.2 with the Kibana contract (commit 00d24b2e of elastic/kibana)
--------------------------------------------------------------------------------------------------------------

**The served description is a prepared copy** (:func:`prepare_spec`, written as JSON next to the log, never into
the project), with two changes, listed at the top of the log:

1. ``nullable`` is dropped from schemas without ``type``.  Kibana's description has one,
   ``RuleActionFrequency.throttle`` (``$ref`` + ``nullable: true``; OpenAPI 3.0 ignores siblings of ``$ref`` and
   ``nullable`` only acts with ``type``).  Ajv refuses to compile such a schema, and Prism then *silently skips*
   the whole body check: with the file as it is, ``POST /api/detection_engine/rules`` accepts ``{"x": 1}``, a body
   without ``type`` and ``risk_score: "high"`` alike (200).  The same failure hid every response schema.
2. ``Authorization: ApiKey ...`` is allowed.  The detections description declares only ``BasicAuth`` (``type:
   http, scheme: basic``) as the global ``security``, so Prism answers **401** ``UNAUTHORIZED`` ("Invalid security
   scheme used", ``WWW-Authenticate: Basic realm="*"``) to any request without ``Authorization: Basic <b64>``,
   including an API key.  Kibana's full description (``kibana.yaml``) also declares ``apiKeyAuth`` (``type: apiKey,
   in: header, name: Authorization``); the copy adds that scheme as an alternative (``api_key_auth=False`` leaves
   Basic only).  Prism checks an apiKey scheme for *presence* only: with it, any ``Authorization`` value (even
   ``Bearer x``) passes and only a request without the header gets 401.

**Headers.** Prism validates only header parameters that an operation declares, and none of the rule operations
declares any: ``kbn-xsrf`` (which Kibana requires on every non-GET request, 400 without it) and
``elastic-api-version`` appear only in the curl examples of descriptions, so a request without them is accepted.
``Content-Type`` is checked against the operation's media types: ``text/plain`` on create is 415
``INVALID_CONTENT_TYPE``, a JSON body on ``_import`` is 415 (multipart/form-data only); no content type on a
JSON operation is 422.  An unparsable JSON body is 400 ``invalid_json``.

**Query parameters** are type-checked (``per_page=abc`` and ``per_page=-1``, ``page=0``, an unknown
``sort_field``, ``dry_run=maybe``, ``overwrite=maybe``: 422), but unknown parameters pass and none is required:
``DELETE /api/detection_engine/rules`` without ``id`` or ``rule_id`` is 200.

**Bodies** are checked with Ajv against the (``anyOf`` of rule types) schema: wrong types, enums, ranges
(``risk_score: 101``), ``minLength``, missing ``type``, ``ids: []`` in ``_bulk_action`` are 422 with a
``validation`` list (``location``, ``code``, ``message``).  Unknown fields pass (the schemas are open), and so does a
PUT without ``rule_id``/``id`` (the description leaves that to Kibana).  ``_bulk_action``'s body is optional.
``_import`` is only checked for being multipart: the form has no required part, and Prism never reads the
ndjson (a form without ``file`` is 200), so the rules in an import file are not validated by the mock.

**Paths.** An unknown path is 404 ``NO_PATH_MATCHED_ERROR``, a known path with an undeclared method is 405
``NO_METHOD_MATCHED_ERROR``.  The space prefix ``/s/<space>/api/...`` is **not** in the description, so it is
404 too: requests for a Kibana space cannot be validated as they are sent; strip the prefix before the mock.

**Responses** (``responses="schema"``, the default: ``--ignoreExamples``).  Kibana's response examples do not
satisfy its own response schemas (they lack ``author``, ``revision``, ``rule_source``...), and ``--errors`` turns
such a response into a 500 ``VIOLATIONS`` problem, so by default Prism builds static, deterministic bodies from
the schemas (first ``anyOf`` branch, ``"string"`` for strings, never an echo of the request):

- ``POST``/``PUT``/``DELETE /api/detection_engine/rules`` (``?rule_id=x``): 200, one rule object (an ``eql`` rule
  with ``id``, ``rule_id: "string"``, ``created_at``, ``revision``, ``execution_summary``...);
- ``GET /api/detection_engine/rules/_find``: 200, ``{data: [rule], page, perPage, total, warnings}``;
- ``POST /api/detection_engine/rules/_bulk_action``: 200, ``{success, status_code, message, rules_count,
  attributes: {errors, results: {created, deleted, skipped, updated}, summary: {failed, skipped, succeeded, total}}}``;
- ``POST /api/detection_engine/rules/_import``: 200, ``{success, success_count, rules_count, errors,
  exceptions_success, exceptions_success_count, exceptions_errors, action_connectors_success, ...}``.

``responses="examples"`` serves Kibana's examples (most operations then answer 500 under ``--errors``);
``responses="dynamic"`` generates seeded random bodies (``--dynamic --seed``).  Problems are
``application/problem+json`` with ``type`` ``https://stoplight.io/prism/errors#<CODE>``.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

PRISM_PACKAGE = "@stoplight/prism-cli"
PRISM_VERSION = "5.14.2"
"""The newest Prism 5.x whose engines accept Node 18.20+ (5.15 and later need Node 24)."""
MINIMUM_NODE = (18, 20, 1)
CONTRACT_ENV = "DETECT_KIBANA_OPENAPI"
API_KEY_SCHEME = "ApiKeyAuth"

ResponseMode = Literal["schema", "examples", "dynamic"]


class PrismError(RuntimeError):
    """Node, npm or Prism failed: there is no mock, the test must fail (the message names the log)."""


@dataclass(frozen=True)
class PrismServer:
    """A running Prism: its base URL (no trailing slash), its log file and the description it serves."""

    url: str
    log_path: Path
    spec_path: Path
    changes: tuple[str, ...]
    pid: int

    def log_tail(self, lines: int = 40) -> str:
        """The last lines of Prism's log, for assertion messages."""
        return _tail(self.log_path, lines)


@dataclass(frozen=True)
class PreparedSpec:
    path: Path
    changes: list[str] = field(default_factory=list)


def contract_path() -> Path | None:
    """Kibana's detections OpenAPI file from $DETECT_KIBANA_OPENAPI, or None when unset or missing."""
    location = os.environ.get(CONTRACT_ENV)
    if not location or not Path(location).is_file():
        return None
    return Path(location)


# --- installation ----------------------------------------------------------------------------------

def prism_home(cache_dir: Path | None = None, version: str = PRISM_VERSION) -> Path:
    """Where this Prism version is (or will be) installed: <cache>/prism/<version>."""
    from deployer.cache import cache_root

    return cache_root(cache_dir) / "prism" / version


def install_prism(cache_dir: Path | None = None, version: str = PRISM_VERSION, *, timeout: float = 600) -> Path:
    """Install Prism with npm into the cache once and return its `prism` executable; reuse an installed one."""
    _check_node()
    home = prism_home(cache_dir, version)
    executable = home / "node_modules" / ".bin" / "prism"
    if _installed_version(home) == version and executable.exists():
        return executable
    home.parent.mkdir(parents=True, exist_ok=True)
    with open(home.parent / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another test process may be installing the same version
        if _installed_version(home) == version and executable.exists():
            return executable
        staging = Path(tempfile.mkdtemp(dir=home.parent, prefix=f".install-{version}-"))
        log_path = home.parent / f"install-{version}.log"
        argv = ["npm", "install", "--prefix", str(staging), f"{PRISM_PACKAGE}@{version}",
                "--no-audit", "--no-fund", "--no-update-notifier", "--loglevel=warn"]
        try:
            with open(log_path, "w") as log:
                log.write(" ".join(argv) + "\n")
                log.flush()
                done = subprocess.run(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                      timeout=timeout, check=False)
        except FileNotFoundError as exc:
            shutil.rmtree(staging, ignore_errors=True)
            raise PrismError(f"npm is not installed ({exc}); Prism needs Node {_dotted(MINIMUM_NODE)}+ with npm") from exc
        except subprocess.TimeoutExpired as exc:
            shutil.rmtree(staging, ignore_errors=True)
            raise PrismError(f"npm install {PRISM_PACKAGE}@{version}: no result after {timeout:.0f}s; see {log_path}") from exc
        if done.returncode != 0 or _installed_version(staging) != version:
            shutil.rmtree(staging, ignore_errors=True)
            raise PrismError(f"npm install {PRISM_PACKAGE}@{version} failed (exit {done.returncode}); see {log_path}:\n"
                             f"{_tail(log_path, 20)}")
        if home.exists():
            shutil.rmtree(home)  # an incomplete or other install under the same name
        os.replace(staging, home)  # node_modules/.bin links are relative: the folder can move
    return executable


def _installed_version(home: Path) -> str | None:
    manifest = home / "node_modules" / "@stoplight" / "prism-cli" / "package.json"
    try:
        version = json.loads(manifest.read_text("utf-8")).get("version")
    except (OSError, ValueError):
        return None
    return version if isinstance(version, str) else None


def _check_node() -> None:
    try:
        done = subprocess.run(["node", "--version"], capture_output=True, text=True, timeout=30, check=False)
    except FileNotFoundError as exc:
        raise PrismError(f"node is not installed; Prism {PRISM_VERSION} needs Node {_dotted(MINIMUM_NODE)}+ with npm") from exc
    found = re.match(r"v(\d+)\.(\d+)\.(\d+)", done.stdout.strip())
    if not found or tuple(int(part) for part in found.groups()) < MINIMUM_NODE:
        raise PrismError(f"Prism {PRISM_VERSION} needs Node {_dotted(MINIMUM_NODE)}+, found {done.stdout.strip() or done.stderr.strip()!r}")


def _dotted(version: tuple[int, ...]) -> str:
    return ".".join(map(str, version))


# --- the served description ------------------------------------------------------------------------

def _yaml_loader() -> Any:
    """PyYAML's safe loader with YAML 1.2 core scalars: no timestamps, no yes/no/on/off booleans, no sexagesimals,
    so every scalar keeps the JSON value Prism's own parser gives it."""
    import yaml  # type: ignore[import-untyped, unused-ignore]

    base: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

    class Yaml12Loader(base):  # type: ignore[misc]
        yaml_implicit_resolvers: ClassVar[dict[str, Any]] = {}

    resolvers = [
        ("tag:yaml.org,2002:bool", r"^(?:true|True|TRUE|false|False|FALSE)$", list("tTfF")),
        ("tag:yaml.org,2002:null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
        ("tag:yaml.org,2002:int", r"^(?:[-+]?(?:0|[1-9][0-9]*)|0x[0-9a-fA-F]+)$", list("-+0123456789")),
        ("tag:yaml.org,2002:float", r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
         list("-+.0123456789")),
    ]
    for tag, pattern, first in resolvers:
        Yaml12Loader.add_implicit_resolver(tag, re.compile(pattern), first)
    return Yaml12Loader


def load_spec(spec_path: Path) -> dict[str, Any]:
    """The OpenAPI document at `spec_path` (YAML or JSON)."""
    text = Path(spec_path).read_text("utf-8")
    if text.lstrip().startswith("{"):
        document = json.loads(text)
    else:
        import yaml  # type: ignore[import-untyped, unused-ignore]

        document = yaml.load(text, Loader=_yaml_loader())  # a safe loader, with YAML 1.2 scalars
    if not isinstance(document, dict) or "paths" not in document:
        raise PrismError(f"{spec_path} is not an OpenAPI document (no `paths`)")
    return document


def prepare_spec(spec_path: Path, dest_dir: Path, *, api_key_auth: bool = True) -> PreparedSpec:
    """Write the description Prism serves to dest_dir/openapi.json: `spec_path` with the changes the module
    docstring explains (nullable without type dropped; optionally the ApiKey scheme).  Returns the changes made."""
    document = load_spec(spec_path)
    changes: list[str] = []
    _drop_untyped_nullable(document, "", changes)
    if api_key_auth:
        _allow_api_key(document, changes)
    path = Path(dest_dir) / "openapi.json"
    path.write_text(json.dumps(document), "utf-8")
    return PreparedSpec(path, changes)


def _drop_untyped_nullable(node: Any, pointer: str, changes: list[str]) -> None:
    if isinstance(node, dict):
        if "nullable" in node and "type" not in node and not pointer.endswith("/properties"):
            del node["nullable"]
            changes.append(f"{pointer}: dropped `nullable` without `type` (Ajv cannot compile it; Prism would skip the check)")
        for key, value in node.items():
            if key in ("example", "examples") and not pointer.endswith("/properties"):
                continue  # example values are data, not schemas
            _drop_untyped_nullable(value, f"{pointer}/{_escape(str(key))}", changes)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            _drop_untyped_nullable(value, f"{pointer}/{index}", changes)


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def _allow_api_key(document: dict[str, Any], changes: list[str]) -> None:
    schemes = document.setdefault("components", {}).setdefault("securitySchemes", {})
    for scheme in schemes.values():
        if scheme.get("type") == "apiKey" and scheme.get("in") == "header" and str(scheme.get("name")).lower() == "authorization":
            return  # the description already allows an API key
    schemes[API_KEY_SCHEME] = {"type": "apiKey", "in": "header", "name": "Authorization",
                               "description": "Kibana API key: `Authorization: ApiKey <base64 id:api_key>` (as Kibana's full description)"}
    requirements: list[list[dict[str, Any]]] = []
    if isinstance(document.get("security"), list) and document["security"]:
        requirements.append(document["security"])
    for item in document.get("paths", {}).values():
        for operation in item.values() if isinstance(item, dict) else ():
            if isinstance(operation, dict) and isinstance(operation.get("security"), list) and operation["security"]:
                requirements.append(operation["security"])
    for requirement in requirements:
        if {API_KEY_SCHEME: []} not in requirement:
            requirement.append({API_KEY_SCHEME: []})
    changes.append(f"/components/securitySchemes/{API_KEY_SCHEME}: added (apiKey in header Authorization) as an alternative to "
                   f"{len(requirements)} security requirement(s)")


# --- the server ------------------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _tail(path: Path, lines: int) -> str:
    try:
        text = path.read_text("utf-8", "replace")
    except OSError as exc:
        return f"(no log: {exc})"
    return "\n".join(text.splitlines()[-lines:])


def _answers(url: str) -> bool:
    """Whether an HTTP server answers at `url` (Prism answers GET / with a 404 problem)."""
    try:
        with urllib.request.urlopen(f"{url}/", timeout=2):
            return True
    except urllib.error.HTTPError:
        return True
    except (urllib.error.URLError, OSError):
        return False


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 10.0)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)  # Prism's own process group (start_new_session)
        try:
            process.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def _prism_argv(executable: Path, spec: Path, port: int, responses: ResponseMode, seed: str) -> list[str]:
    argv = [str(executable), "mock", "--errors", "-h", "127.0.0.1", "-p", str(port)]
    if responses == "schema":
        argv.append("--ignoreExamples")
    elif responses == "dynamic":
        argv += ["--dynamic", "--seed", seed]
    return [*argv, str(spec)]


@contextlib.contextmanager
def running_prism(spec_path: Path | str, *, log_dir: Path | None = None, responses: ResponseMode = "schema",
                  api_key_auth: bool = True, seed: str = "detect", startup_timeout: float = 90,
                  cache_dir: Path | None = None) -> Iterator[PrismServer]:
    """Run `prism mock --errors` on 127.0.0.1 (a free port) for the description at `spec_path`, until the block
    ends; the process group is always terminated.  Raises PrismError when Prism cannot be installed or started."""
    spec_path = Path(spec_path)
    if not spec_path.is_file():
        raise PrismError(f"no OpenAPI description at {spec_path}")
    executable = install_prism(cache_dir)
    folder = Path(log_dir) if log_dir is not None else Path(tempfile.mkdtemp(prefix="detect-prism-"))
    folder.mkdir(parents=True, exist_ok=True)
    prepared = prepare_spec(spec_path, folder, api_key_auth=api_key_auth)
    log_path = folder / "prism.log"
    env = {**os.environ, "NO_COLOR": "1", "FORCE_COLOR": "0"}
    try:
        process, url = _start(executable, prepared, log_path, responses, seed, env, startup_timeout)
        try:
            yield PrismServer(url, log_path, prepared.path, tuple(prepared.changes), process.pid)
        finally:
            _stop(process)
    finally:
        prepared.path.unlink(missing_ok=True)  # a derived copy of Kibana's file: never left behind


def _start(executable: Path, prepared: PreparedSpec, log_path: Path, responses: ResponseMode, seed: str,
           env: dict[str, str], startup_timeout: float) -> tuple[subprocess.Popen[bytes], str]:
    attempts = 3  # the free port may be taken between the probe and Prism's bind
    for attempt in range(1, attempts + 1):
        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        argv = _prism_argv(executable, prepared.path, port, responses, seed)
        with open(log_path, "a", encoding="utf-8") as log:
            log.write(f"# {' '.join(argv)}\n")
            log.writelines(f"# served description: {change}\n" for change in prepared.changes)
            log.flush()
            process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                       env=env, start_new_session=True)
        started = time.monotonic()
        try:
            while time.monotonic() - started < startup_timeout:
                if process.poll() is not None:
                    break
                if _answers(url):
                    return process, url
                time.sleep(0.1)
        except BaseException:
            _stop(process)
            raise
        if process.poll() is None:
            _stop(process)
            raise PrismError(f"Prism did not answer on {url} within {startup_timeout:.0f}s; see {log_path}:\n{_tail(log_path, 20)}")
        if attempt == attempts or "EADDRINUSE" not in _tail(log_path, 20):
            raise PrismError(f"Prism exited with {process.returncode} before answering on {url}; see {log_path}:\n"
                             f"{_tail(log_path, 20)}")
    raise AssertionError("unreachable")


@contextlib.contextmanager
def prism_mock(spec_path: Path | str, **options: Any) -> Iterator[str]:
    """Run Prism for `spec_path` (see :func:`running_prism` for the options) and yield its base URL."""
    with running_prism(spec_path, **options) as server:
        yield server.url
