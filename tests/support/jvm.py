"""What the Java-backed test oracles share: finding a JDK that can compile, and running a build tool."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from deployer.cluster.jdk import java_major


@dataclass(frozen=True)
class Jdk:
    home: Path
    major: int

    @property
    def java(self) -> Path:
        return self.home / "bin" / "java"

    @property
    def javac(self) -> Path:
        return self.home / "bin" / "javac"


def jdk_major(home: Path) -> int | None:
    """The feature version of a home holding both java and javac (a JRE cannot compile the harnesses)."""
    if not ((home / "bin" / "javac").is_file() and (home / "bin" / "java").is_file()):
        return None
    return java_major(home)


def find_jdk(minimum: int, explicit: Path | None, *, override_env: str, error: type[Exception]) -> Jdk:
    """The first JDK of at least `minimum`: the explicit one, $override_env, $JAVA_HOME, the javac on PATH,
    then /usr/lib/jvm/*."""
    if explicit is not None:
        major = jdk_major(Path(explicit))
        if major is None or major < minimum:
            raise error(f"{explicit} is not a JDK {minimum}+ (found: {major or 'no JDK'})")
        return Jdk(Path(explicit).resolve(), major)
    candidates = [Path(os.environ[var]) for var in (override_env, "JAVA_HOME") if os.environ.get(var)]
    on_path = shutil.which("javac")
    if on_path:
        candidates.append(Path(on_path).resolve().parent.parent)
    jvm = Path("/usr/lib/jvm")
    if jvm.is_dir():
        candidates.extend(sorted(p for p in jvm.iterdir() if p.is_dir()))
    seen: list[str] = []
    for home in candidates:
        major = jdk_major(home)
        seen.append(f"{home} ({major if major is not None else 'not a JDK'})")
        if major is not None and major >= minimum:
            return Jdk(home.resolve(), major)
    raise error(f"no JDK {minimum}+ found (looked at: {', '.join(seen) or 'nothing'}); set {override_env}")


def run_tool(argv: Sequence[str | Path], what: str, *, cwd: Path, timeout: float, error: type[Exception],
             env: dict[str, str] | None = None) -> None:
    """Run mvn or javac; any failure becomes one `error` carrying the command and the tail of its output."""
    try:
        done = subprocess.run([str(a) for a in argv], cwd=cwd, capture_output=True, text=True,
                              timeout=timeout, env=env, stdin=subprocess.DEVNULL)
    except FileNotFoundError as exc:
        raise error(f"{what}: {argv[0]} is not installed ({exc})") from exc
    except subprocess.TimeoutExpired as exc:
        raise error(f"{what}: no result after {timeout:.0f}s: {' '.join(map(str, argv))}") from exc
    if done.returncode != 0:
        output = (done.stdout + done.stderr).strip()
        raise error(f"{what} failed (exit {done.returncode}): {' '.join(map(str, argv))}\n{output[-4000:]}")


def jar_holds(jar: Path, member: str) -> bool:
    """Whether `jar` is a readable zip holding `member`: a fetched artifact is usable, not cut short or mistaken."""
    try:
        with zipfile.ZipFile(jar) as archive:
            return member in archive.namelist()
    except (OSError, zipfile.BadZipFile):
        return False


def compile_java(javac: Path, source: Path, classpath: str | Path, classes: Path, what: str, *,
                 error: type[Exception], options: Sequence[str] = ()) -> None:
    """Compile `source` into `classes`, replaced whole: a run cut short never leaves half a folder to load."""
    tmp = Path(tempfile.mkdtemp(dir=classes.parent, prefix=".classes-"))
    try:
        run_tool([javac, "-encoding", "UTF-8", *options, "-cp", classpath, "-d", tmp, source], what, cwd=tmp, timeout=300,
                 error=error)
        shutil.rmtree(classes, ignore_errors=True)
        tmp.chmod(0o755)  # the unprivileged node user may load these classes too
        os.replace(tmp, classes)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
