"""OpenSearch Alerting's own parser as a contract for the monitors detect compiles.

The Alerting plugin is not on Maven Central, but the model classes and parsers its REST layer parses
monitor requests with are: ``org.opensearch:common-utils`` (``Monitor.parse``, the triggers, inputs and
the ``bucket_selector_ext`` aggregation).  ``MonitorContract.java`` parses monitors with them the way
``POST _plugins/_alerting/monitors`` does and writes each parsed monitor back with ``toXContent``.

The first use resolves the jars with Maven (a throwaway pom and ``dependency:copy-dependencies``) into
``<cache root>/alerting-contract/`` (the cache root of :func:`deployer.cache.cache_root`) and
compiles the harness there; later uses reuse both and download nothing.  One JVM answers a whole batch.

Any failure of Java, Maven or the harness raises :class:`AlertingContractError`: a test that asks the
contract fails loudly, it never passes without an answer.  A monitor that Alerting rejects is an answer:
``ParseResult(ok=False, error="<exception class>: <message>")``.

    [result] = parse_monitors([monitor])
    assert result.ok, result.error
    assert ignored_fields(monitor, result.reserialized) == []   # keys Alerting skipped silently
"""

from __future__ import annotations

import fcntl
import functools
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deployer.cache import cache_root
from tests.support.jvm import compile_java, find_jdk, jar_holds, run_tool

COMMON_UTILS_VERSION = "2.19.4.0"
"""The newest 2.19 release of common-utils on Maven Central (2.19.0.0 and 2.19.4.0 are the 2.19 ones)."""
OPENSEARCH_VERSION = "2.19.6"
"""OpenSearch core (SearchModule: the query and aggregation parsers), the version of our throwaway node."""
KOTLIN_STDLIB_VERSION = "1.9.25"
"""common-utils is Kotlin (metadata 1.8) and declares no dependencies: the plugin ships the stdlib."""
CRON_UTILS_VERSION = "9.2.1"
"""Alerting's Schedule class loads cron-utils (cron schedules) as soon as any schedule is parsed."""

ARTIFACTS: tuple[tuple[str, str, str], ...] = (
    ("org.opensearch", "common-utils", COMMON_UTILS_VERSION),
    ("org.opensearch", "opensearch", OPENSEARCH_VERSION),
    ("org.jetbrains.kotlin", "kotlin-stdlib", KOTLIN_STDLIB_VERSION),
    ("com.cronutils", "cron-utils", CRON_UTILS_VERSION),
)
DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.11.0"
JAVA_SOURCE = Path(__file__).with_name("MonitorContract.java")
MAIN_CLASS = "MonitorContract"
_MARKERS = {  # a class each artifact must hold: the copy is complete and the right one
    f"common-utils-{COMMON_UTILS_VERSION}.jar": "org/opensearch/commons/alerting/model/Monitor.class",
    f"opensearch-{OPENSEARCH_VERSION}.jar": "org/opensearch/search/SearchModule.class",
    f"kotlin-stdlib-{KOTLIN_STDLIB_VERSION}.jar": "kotlin/Unit.class",
    f"cron-utils-{CRON_UTILS_VERSION}.jar": "com/cronutils/parser/CronParser.class",
}
_COMPLETE = "COMPLETE"
_JVM_FLAGS = (
    "-XX:+UseSerialGC",
    "-XX:TieredStopAtLevel=1",
    # OpenSearch logs through the Log4j API; without a provider Log4j complains on stderr.
    "-Dlog4j2.loggerContextFactory=org.apache.logging.log4j.simple.SimpleLoggerContextFactory",
)


class AlertingContractError(RuntimeError):
    """Java, Maven or the harness failed: there is no answer, the test must fail."""


@dataclass(frozen=True)
class ParseResult:
    """Alerting's answer for one monitor."""

    ok: bool
    error: str | None = None
    """'<exception class>: <message>' when Alerting rejects the monitor."""
    reserialized: dict[str, Any] | None = None
    """The parsed Monitor written back with toXContent (what Alerting would store), when ok."""
    causes: tuple[str, ...] = ()
    """The exception's causes, outermost first ('<class>: <message>')."""
    deprecations: tuple[str, ...] = field(default=())
    """Deprecation warnings the parsers raised (a node logs them and answers with Warning headers)."""

    @property
    def message(self) -> str:
        """The error with its causes, for assertion messages and substring checks."""
        return " <- ".join([self.error or "", *self.causes])


def _pom() -> str:
    dependencies = "\n".join(
        f"    <dependency><groupId>{group}</groupId><artifactId>{artifact}</artifactId><version>{version}</version></dependency>"
        for group, artifact, version in ARTIFACTS)
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.detect</groupId>
  <artifactId>alerting-contract</artifactId>
  <version>0</version>
  <packaging>pom</packaging>
  <dependencies>
{dependencies}
  </dependencies>
</project>
"""


class MonitorContract:
    """Alerting's monitor parser (common-utils) in a JVM, fetched and compiled into the cache once."""

    def __init__(self, *, cache_dir: Path | None = None, timeout: float = 300.0) -> None:
        self.folder = cache_root(cache_dir) / "alerting-contract"
        coordinates = ",".join(":".join(a) for a in ARTIFACTS)
        key = hashlib.sha256(coordinates.encode()).hexdigest()[:12]
        self.lib = self.folder / f"lib-{key}"
        jdk = find_jdk(11, None, override_env="DETECT_ALERTING_JAVA_HOME", error=AlertingContractError)
        self.java, self.javac = jdk.java, jdk.javac
        source_hash = hashlib.sha256(JAVA_SOURCE.read_bytes() + f"|{key}|{self.javac}".encode()).hexdigest()[:16]
        self.classes = self.folder / f"classes-{source_hash}"
        self.timeout = timeout

    # ---------------------------------------------------------------- setup

    def _lib_ready(self) -> bool:
        return (self.lib / _COMPLETE).is_file() and all(jar_holds(self.lib / jar, member) for jar, member in _MARKERS.items())

    def _classes_ready(self) -> bool:
        return (self.classes / f"{MAIN_CLASS}.class").is_file()

    def prepare(self) -> None:
        """Fetch the jars and compile the harness if the cache lacks them; a no-op afterwards."""
        if self._lib_ready() and self._classes_ready():
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        with open(self.folder / ".lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # another test process may be preparing the same files
            if not self._lib_ready():
                self._fetch()
            if not self._classes_ready():
                self._compile()

    def _fetch(self) -> None:
        mvn = shutil.which("mvn")
        if mvn is None:
            raise AlertingContractError("mvn is not on PATH; it is needed once to fetch Alerting's common-utils and OpenSearch")
        with tempfile.TemporaryDirectory(dir=self.folder, prefix=".fetch-") as tmp:
            work = Path(tmp)
            (work / "pom.xml").write_text(_pom(), "utf-8")
            out = work / "lib"
            run_tool([mvn, "-B", "-q", "-f", work / "pom.xml", f"{DEPENDENCY_PLUGIN}:copy-dependencies",
                       f"-DoutputDirectory={out}", "-DincludeScope=runtime"],
                      "fetching Alerting's common-utils with Maven", cwd=work, timeout=1800, error=AlertingContractError)
            for jar, member in _MARKERS.items():
                if not jar_holds(out / jar, member):
                    raise AlertingContractError(f"Maven did not produce {jar} (holding {member}) in {out}")
            jars = sorted(p.name for p in out.glob("*.jar"))
            (out / _COMPLETE).write_text("\n".join(jars) + "\n", "utf-8")
            out.chmod(0o755)
            shutil.rmtree(self.lib, ignore_errors=True)
            os.replace(out, self.lib)

    def _compile(self) -> None:
        compile_java(self.javac, JAVA_SOURCE, self.classpath(), self.classes,
                     f"compiling {JAVA_SOURCE.name} against common-utils {COMMON_UTILS_VERSION}", error=AlertingContractError,
                     options=["-nowarn"])

    def classpath(self) -> str:
        return os.pathsep.join(str(jar) for jar in sorted(self.lib.glob("*.jar")))

    # ---------------------------------------------------------------- parsing

    def parse(self, monitors: Sequence[dict[str, Any]]) -> list[ParseResult]:
        """Alerting's answer for each monitor (request bodies of POST _plugins/_alerting/monitors), one JVM."""
        self.prepare()
        lines = "".join(json.dumps(monitor, ensure_ascii=True) + "\n" for monitor in monitors)
        argv = [str(self.java), *_JVM_FLAGS, "-cp", f"{self.classpath()}{os.pathsep}{self.classes}", MAIN_CLASS]
        try:
            done = subprocess.run(argv, input=lines.encode("ascii"), capture_output=True, timeout=self.timeout)
        except OSError as exc:
            raise AlertingContractError(f"cannot start {self.java}: {exc}") from exc
        except subprocess.TimeoutExpired as exc:
            raise AlertingContractError(f"the Alerting contract JVM gave no answer within {self.timeout:.0f}s") from exc
        stderr = done.stderr.decode("utf-8", "replace").strip()[-4000:]
        if done.returncode != 0:
            raise AlertingContractError(f"the Alerting contract JVM failed (exit {done.returncode}):\n{stderr}")
        answers = done.stdout.decode("utf-8").splitlines()
        if len(answers) != len(monitors) + 1:
            raise AlertingContractError(f"{len(answers) - 1} answers for {len(monitors)} monitors:\n{stderr}")
        try:
            header = json.loads(answers[0])
            results = [self._result(json.loads(line)) for line in answers[1:]]
        except (ValueError, KeyError, TypeError) as exc:
            raise AlertingContractError(f"unreadable answer from the Alerting contract JVM: {exc}\n{stderr}") from exc
        if header != {"harness": MAIN_CLASS, "opensearch": OPENSEARCH_VERSION}:
            raise AlertingContractError(f"unexpected harness header {header!r}")
        return results

    @staticmethod
    def _result(answer: dict[str, Any]) -> ParseResult:
        deprecations = tuple(answer["deprecations"])
        if answer["ok"] is True:
            monitor = answer["monitor"]
            if not isinstance(monitor, dict):
                raise TypeError(f"monitor is not an object: {monitor!r}")
            return ParseResult(True, reserialized=monitor, deprecations=deprecations)
        if answer["ok"] is False:
            return ParseResult(False, error=str(answer["error"]), causes=tuple(answer["causes"]), deprecations=deprecations)
        raise TypeError(f"unexpected answer {answer!r}")


@functools.cache
def get_contract() -> MonitorContract:
    """The shared contract (fetched and compiled on first use)."""
    contract = MonitorContract()
    contract.prepare()
    return contract


def parse_monitors(monitors: list[dict[str, Any]]) -> list[ParseResult]:
    """Parse every monitor with Alerting's Monitor.parse, in one JVM; one result per monitor, in order."""
    return get_contract().parse(monitors)


# The search request is parsed by OpenSearch's SearchSourceBuilder, which rejects unknown keys and writes the
# query back in its canonical form (range gte -> from, ...): compare it field by field, not key by key.
_CANONICALISED = ("search", "query")


def _pointer(path: Sequence[str]) -> str:
    return "".join("/" + part.replace("~", "~0").replace("/", "~1") for part in path)


def ignored_fields(sent: Any, reserialized: Any, path: tuple[str, ...] = ()) -> list[str]:
    """JSON pointers of what `sent` holds and the re-serialized monitor lost.

    Alerting's parsers skip unknown keys of the monitor, its triggers and inputs without a word (a typo
    such as `severty` is dropped, not refused); this names them.  Lists are compared item by item; a list
    whose length changed is named whole.  The search request itself is left out (see _CANONICALISED)."""
    lost: list[str] = []
    if path[-2:] == _CANONICALISED:
        return lost
    if isinstance(sent, dict) and isinstance(reserialized, dict):
        for key, value in sent.items():
            if key not in reserialized:
                lost.append(_pointer((*path, key)))
            else:
                lost.extend(ignored_fields(value, reserialized[key], (*path, key)))
    elif isinstance(sent, list) and isinstance(reserialized, list):
        if len(sent) != len(reserialized):
            return [_pointer(path)]
        for index, (item, kept) in enumerate(zip(sent, reserialized, strict=True)):
            lost.extend(ignored_fields(item, kept, (*path, str(index))))
    return lost
