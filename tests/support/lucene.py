"""A real-Lucene oracle for `regexp` and `wildcard` query semantics.

Tests ask Lucene itself (the library Elasticsearch and OpenSearch evaluate these queries with)
instead of reasoning about the dialect.  The first use fetches ``lucene-core`` with Maven into the
cache (``$DETECT_CACHE_DIR``, else ``$XDG_CACHE_HOME/detect``, else ``~/.cache/detect``; subfolder
``lucene/``) and compiles ``LuceneOracle.java`` there; later uses reuse both.  One JVM per oracle
answers every case, over a line protocol (see the Java file).

Any failure of Java, Maven or the protocol raises :class:`LuceneOracleError`: a test that uses the
oracle fails loudly, it never passes without an answer.  A pattern that Lucene rejects is a
:class:`LucenePatternError` (from the ``*_matches`` methods) or a returned message
(``regexp_error``, ``wildcard_error``, :meth:`LuceneOracle.run`).

    oracle = get_oracle()
    oracle.regexp_matches("ab.*", ["abc", "xabc"])            # [True, False]
    oracle.regexp_error("(ab")                                # "expected ')' at position 3"
    oracle.regexp_too_complex("(a|b)*a(a|b){20}")             # True: TooComplexToDeterminizeException
    oracle.wildcard_matches("*\\\\calc.exe", [r"C:\\calc.exe"], case_insensitive=True)
    oracle.run([regexp_case("a+", ["a"]), wildcard_case("a?", ["ab"])])   # one round trip each
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import functools
import hashlib
import json
import os
import queue
import re
import shutil
import subprocess
import tempfile
import threading
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Literal

from tests.support.jvm import compile_java, find_jdk, jar_holds, run_tool

DEFAULT_VERSION = "9.12.3"
"""Lucene of OpenSearch 2.19 (and Elasticsearch 8.x): the newest 9.12 release that resolves."""

ALL = 0xFF
"""RegExp.ALL: the syntax flags a `regexp` query uses unless it names `flags` (OpenSearch 2.x)."""

DEFAULT_MAX_DETERMINIZED_STATES = 10_000
"""Operations.DEFAULT_DETERMINIZE_WORK_LIMIT, the query DSL's `max_determinized_states` default."""

DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.11.0"
JAVA_SOURCE = Path(__file__).with_name("LuceneOracle.java")
_MARKER_CLASS = "org/apache/lucene/util/automaton/RegExp.class"


class LuceneOracleError(RuntimeError):
    """Java, Maven or the oracle itself failed: there is no answer, the test must fail."""


class LucenePatternError(ValueError):
    """Lucene rejected the pattern (the engines would reject the query)."""

    def __init__(self, pattern: str, message: str, error_type: str) -> None:
        super().__init__(f"Lucene rejects {pattern!r}: {error_type}: {message}")
        self.pattern = pattern
        self.message = message
        self.error_type = error_type


@dataclass(frozen=True)
class Case:
    """One question: does `pattern` (a regexp or wildcard query value) match each of `values`?"""

    kind: Literal["regexp", "wildcard"]
    pattern: str
    values: tuple[str, ...] = ()
    case_insensitive: bool = False
    flags: int | None = None
    """Regexp syntax flags (ignored for wildcard); None: the query DSL's default, RegExp.ALL
    (on Lucene 10 plus DEPRECATED_COMPLEMENT, as Elasticsearch 9 sends)."""
    max_determinized_states: int = DEFAULT_MAX_DETERMINIZED_STATES
    via: Literal["automaton", "index"] = "automaton"
    """'automaton': the query's compiled UTF-8 automaton run on each value; 'index': the values
    indexed as keyword terms in an in-memory index and searched with the query (a cross-check)."""

    def request(self) -> dict[str, Any]:
        req: dict[str, Any] = {
            "kind": self.kind,
            "pattern": self.pattern,
            "values": list(self.values),
            "case_insensitive": self.case_insensitive,
            "max_determinized_states": self.max_determinized_states,
            "via": self.via,
        }
        if self.kind == "regexp" and self.flags is not None:
            req["flags"] = self.flags
        return req


def regexp_case(pattern: str, values: Iterable[str] = (), **options: Any) -> Case:
    return Case("regexp", pattern, tuple(values), **options)


def wildcard_case(pattern: str, values: Iterable[str] = (), **options: Any) -> Case:
    return Case("wildcard", pattern, tuple(values), **options)


@dataclass(frozen=True)
class Outcome:
    """Lucene's answer to one :class:`Case`: `matches` (one per value), or the rejection."""

    case: Case
    matches: tuple[bool, ...] | None
    error: str | None = None
    error_type: str | None = None
    too_complex: bool = False
    """Lucene threw TooComplexToDeterminizeException: determinizing needs more than the work limit."""

    @property
    def automaton_too_large(self) -> bool:
        """Lucene refused the built automaton as too deep to walk (Operations.isFinite: "input automaton is too
        large"), the other way a regexp or wildcard is refused for its size rather than its syntax."""
        return self.error_type == "IllegalArgumentException" and (self.error or "").startswith("input automaton is too large")

    def matches_or_raise(self) -> list[bool]:
        if self.matches is None:
            raise LucenePatternError(self.case.pattern, self.error or "", self.error_type or "")
        return list(self.matches)


def cache_root() -> Path:
    """The project's cache folder (deployer.cache), so every fetched artifact lives in one place."""
    from deployer.cache import cache_root as project_cache_root

    return project_cache_root()


class LuceneOracle:
    """Ask one lucene-core version about regexp and wildcard patterns, in one long-lived JVM."""

    def __init__(self, version: str = DEFAULT_VERSION, *, cache_dir: Path | None = None,
                 java_home: Path | None = None, timeout: float = 120.0) -> None:
        if not re.fullmatch(r"\d+\.\d+\.\d+", version):
            raise ValueError(f"not a Lucene version: {version!r}")
        self.version = version
        self.folder = (Path(cache_dir) if cache_dir is not None else cache_root()) / "lucene"
        self.jar = self.folder / f"lucene-core-{version}.jar"
        self.timeout = timeout
        major = int(version.split(".")[0])
        self._jdk = find_jdk(21 if major >= 10 else 11, java_home, override_env="DETECT_LUCENE_JAVA_HOME",
                             error=LuceneOracleError)
        source_hash = hashlib.sha256(JAVA_SOURCE.read_bytes() + f"|{self._jdk.home}|{self._jdk.major}".encode()).hexdigest()[:16]
        self.classes = self.folder / f"classes-{version}-{source_hash}"
        self._lock = threading.RLock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._answers: queue.Queue[bytes] = queue.Queue()
        self._stderr: deque[str] = deque(maxlen=50)

    # ---------------------------------------------------------------- setup

    def prepare(self) -> None:
        """Fetch the jar and compile the oracle if the cache lacks them; a no-op afterwards."""
        if jar_holds(self.jar, _MARKER_CLASS) and (self.classes / "LuceneOracle.class").is_file():
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        with open(self.folder / ".lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # another test process may be preparing the same files
            if not jar_holds(self.jar, _MARKER_CLASS):
                self._fetch()
            if not (self.classes / "LuceneOracle.class").is_file():
                self._compile()

    def _fetch(self) -> None:
        mvn = shutil.which("mvn")
        if mvn is None:
            raise LuceneOracleError(f"mvn is not on PATH; it is needed once to fetch lucene-core {self.version}")
        with tempfile.TemporaryDirectory(dir=self.folder, prefix=".fetch-") as tmp:
            # An empty working folder: no project pom.xml may take part in the fetch.
            run_tool([mvn, "-B", "-q", f"{DEPENDENCY_PLUGIN}:copy",
                       f"-Dartifact=org.apache.lucene:lucene-core:{self.version}:jar", f"-DoutputDirectory={tmp}"],
                      f"fetching lucene-core {self.version} with Maven", cwd=Path(tmp), timeout=900, error=LuceneOracleError)
            fetched = Path(tmp) / self.jar.name
            if not jar_holds(fetched, _MARKER_CLASS):
                raise LuceneOracleError(f"Maven did not produce a lucene-core jar at {fetched}")
            os.replace(fetched, self.jar)

    def _compile(self) -> None:
        compile_java(self._jdk.javac, JAVA_SOURCE, self.jar, self.classes,
                     f"compiling {JAVA_SOURCE.name} against lucene-core {self.version}", error=LuceneOracleError)

    # ---------------------------------------------------------------- the JVM

    def _start(self) -> subprocess.Popen[bytes]:
        self.prepare()
        try:
            proc = subprocess.Popen([str(self._jdk.java), "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-cp", f"{self.jar}{os.pathsep}{self.classes}", "LuceneOracle"],
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        except OSError as exc:
            raise LuceneOracleError(f"cannot start {self._jdk.java}: {exc}") from exc
        self._answers = queue.Queue()
        self._stderr.clear()
        assert proc.stdout is not None and proc.stderr is not None
        threading.Thread(target=self._pump, args=(proc.stdout, self._answers), daemon=True).start()
        threading.Thread(target=self._drain, args=(proc.stderr,), daemon=True).start()
        self._proc = proc
        reported = self._ask({"kind": "version"}).get("version")
        if reported != self.version:
            self.close()
            raise LuceneOracleError(f"{self.jar} reports Lucene {reported}, expected {self.version}")
        return proc

    @staticmethod
    def _pump(stream: IO[bytes], answers: queue.Queue[bytes]) -> None:
        for line in stream:
            answers.put(line)
        answers.put(b"")  # end of stream: the JVM is gone

    def _drain(self, stream: IO[bytes]) -> None:
        for line in stream:
            self._stderr.append(line.decode("utf-8", "replace").rstrip())

    def _died(self, what: str) -> LuceneOracleError:
        proc, self._proc = self._proc, None
        code = None
        if proc is not None:
            with contextlib.suppress(OSError):
                proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                code = proc.wait(timeout=10)
        tail = "\n".join(self._stderr)
        return LuceneOracleError(f"the Lucene oracle JVM {what} (exit {code})" + (f":\n{tail}" if tail else ""))

    def _ask(self, request: dict[str, Any]) -> dict[str, Any]:
        proc = self._proc
        if proc is None:
            proc = self._start()
        elif proc.poll() is not None:
            raise self._died("exited")
        assert proc.stdin is not None
        try:
            proc.stdin.write(json.dumps(request, ensure_ascii=True).encode("ascii") + b"\n")
            proc.stdin.flush()
        except OSError as exc:
            raise self._died(f"stopped reading ({exc})") from exc
        try:
            line = self._answers.get(timeout=self.timeout)
        except queue.Empty:
            raise self._died(f"gave no answer within {self.timeout:.0f}s") from None
        if not line:
            raise self._died("exited")
        answer = json.loads(line)
        if not isinstance(answer, dict) or "protocol_error" in answer:
            raise LuceneOracleError(f"the Lucene oracle could not read {request!r}: {answer!r}")
        return answer

    def close(self) -> None:
        """Stop the JVM (a later question starts a new one)."""
        with self._lock:
            proc, self._proc = self._proc, None
            if proc is None:
                return
            with contextlib.suppress(OSError):
                assert proc.stdin is not None
                proc.stdin.close()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def __enter__(self) -> LuceneOracle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---------------------------------------------------------------- questions

    @property
    def pid(self) -> int | None:
        """The running JVM's process id (None before the first question or after close)."""
        proc = self._proc
        return proc.pid if proc is not None and proc.poll() is None else None

    @property
    def lucene_version(self) -> str:
        """The version the running lucene-core reports about itself."""
        with self._lock:
            return str(self._ask({"kind": "version"})["version"])

    def run(self, cases: Iterable[Case]) -> list[Outcome]:
        """Answer every case in this oracle's single JVM, in order."""
        outcomes: list[Outcome] = []
        with self._lock:
            for case in cases:
                answer = self._ask(case.request())
                if "matches" in answer:
                    matches = tuple(bool(m) for m in answer["matches"])
                    if len(matches) != len(case.values):
                        raise LuceneOracleError(f"{len(matches)} answers for {len(case.values)} values: {case!r}")
                    outcomes.append(Outcome(case, matches))
                elif "error" in answer:
                    outcomes.append(Outcome(case, None, str(answer["error"]), str(answer.get("error_type", "")),
                                            answer.get("too_complex") is True))
                else:
                    raise LuceneOracleError(f"unexpected answer {answer!r} to {case!r}")
        return outcomes

    def regexp_matches(self, pattern: str, values: Iterable[str], *, case_insensitive: bool = False,
                       flags: int | None = None, via: Literal["automaton", "index"] = "automaton") -> list[bool]:
        """Whether a `regexp` query with this value matches each keyword value (whole-term match)."""
        case = regexp_case(pattern, values, case_insensitive=case_insensitive, flags=flags, via=via)
        return self.run([case])[0].matches_or_raise()

    def regexp_error(self, pattern: str, *, case_insensitive: bool = False, flags: int | None = None) -> str | None:
        """Lucene's message when it rejects the pattern, None when it accepts it."""
        return self.run([regexp_case(pattern, case_insensitive=case_insensitive, flags=flags)])[0].error

    def regexp_too_complex(self, pattern: str, *, case_insensitive: bool = False) -> bool:
        """Whether RegExp -> Automaton -> determinize, as a regexp query builds it with the default
        determinizeWorkLimit (10000), throws TooComplexToDeterminizeException."""
        return self.run([regexp_case(pattern, case_insensitive=case_insensitive)])[0].too_complex

    def wildcard_matches(self, pattern: str, values: Iterable[str], *, case_insensitive: bool = False,
                         via: Literal["automaton", "index"] = "automaton") -> list[bool]:
        """Whether a `wildcard` query with this value matches each keyword value.

        Case-insensitive as OpenSearch 2.x / Elasticsearch 8 build it: unescaped ASCII letters fold,
        an escaped character matches only itself."""
        case = wildcard_case(pattern, values, case_insensitive=case_insensitive, via=via)
        return self.run([case])[0].matches_or_raise()

    def wildcard_error(self, pattern: str, *, case_insensitive: bool = False) -> str | None:
        return self.run([wildcard_case(pattern, case_insensitive=case_insensitive)])[0].error


@functools.cache
def get_oracle(version: str = DEFAULT_VERSION) -> LuceneOracle:
    """The shared oracle for `version` (one JVM for the whole test session, stopped at exit)."""
    oracle = LuceneOracle(version)
    oracle.prepare()
    atexit.register(oracle.close)
    return oracle
