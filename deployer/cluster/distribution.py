"""Fetch an engine from Maven Central with `mvn` and assemble a runnable home.

Only the integ-test-zip distributions are on Maven Central.  OpenSearch's lacks
every module but transport-netty4, so lang-painless and lang-mustache are
rebuilt here from their published jars; plugins are installed with the
distribution's own `opensearch-plugin`.  Elasticsearch's zip is used as is.

Layout under the cache folder (see cache.cache_root):
  downloads/<engine>-<version>/   files copied out of the local Maven repo
  homes/<engine>-<version>/       assembled home, with STAMP_NAME inside
  locks/<engine>.lock             serialises concurrent assemblers
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import subprocess
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from deployer.cache import cache_root
from deployer.report.progress import Progress

from . import ENGINES
from .errors import ClusterError
from .jdk import java_home_for

OPENSEARCH_VERSION = "2.19.6"
# 9.x rather than 8.x: the newest integ-test-zip line that resolved; needs Java 21+.
ELASTICSEARCH_VERSION = "9.2.0"

OPENSEARCH_ZIP = f"org.opensearch.distribution.integ-test-zip:opensearch:{OPENSEARCH_VERSION}:zip"
ELASTICSEARCH_ZIP = f"org.elasticsearch.distribution.integ-test-zip:elasticsearch:{ELASTICSEARCH_VERSION}:zip"

# Plugin zips installed into the OpenSearch home, in dependency order.  The
# Alerting zip (org.opensearch.plugin:alerting) is not served by the registry
# reachable here for any version, so it cannot be listed; job-scheduler is, and
# is what Alerting >= 3.7 and Security Analytics build on.
OPENSEARCH_PLUGINS: tuple[str, ...] = (f"org.opensearch.plugin:opensearch-job-scheduler:{OPENSEARCH_VERSION}.0:zip",)

# Extra local plugin zips (os.pathsep-separated), e.g. an Alerting zip obtained
# elsewhere; they are installed after OPENSEARCH_PLUGINS and join the stamp.
EXTRA_PLUGINS_ENV = "DETECT_OPENSEARCH_PLUGIN_ZIPS"

DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.11.0"
STAMP_NAME = ".detect-home.json"
# Bumped whenever the assembly recipe changes, so old homes get rebuilt.
RECIPE = 1


@dataclass(frozen=True)
class _Module:
    """A module rebuilt from jars; `exclude` keeps OpenSearch core out of it."""

    name: str
    artifact: str  # group:artifact
    classnames: tuple[str, ...]  # first one present in the jar wins
    description: str
    policy: str


OPENSEARCH_MODULES: tuple[_Module, ...] = (
    _Module(
        name="lang-painless",
        artifact="org.opensearch.plugin:lang-painless",
        classnames=(
            "org.opensearch.painless.PainlessModulePlugin",
            "org.opensearch.painless.PainlessPlugin",
        ),
        description="An easy, safe and fast scripting language for OpenSearch",
        policy=(
            "grant {\n"
            '  permission java.lang.RuntimePermission "createClassLoader";\n'
            '  permission java.lang.RuntimePermission "getClassLoader";\n'
            "};\n"
        ),
    ),
    _Module(
        name="lang-mustache",
        artifact="org.opensearch.plugin:lang-mustache-client",
        classnames=("org.opensearch.script.mustache.MustachePlugin",),
        description="Mustache scripting integration for OpenSearch",
        policy=('grant {\n  permission java.lang.RuntimePermission "accessDeclaredMembers";\n};\n'),
    ),
)


def engine_version(engine: str) -> str:
    _check_engine(engine)
    return OPENSEARCH_VERSION if engine == "opensearch" else ELASTICSEARCH_VERSION


def ensure_distribution(engine: str, *, cache_dir: Path | None = None, progress: Progress | None = None) -> Path:
    """Return an assembled, runnable home for `engine`, fetching what is missing.

    Idempotent: once the stamp in the home matches the wanted recipe, nothing
    is downloaded or rebuilt.
    """
    _check_engine(engine)
    say = progress or (lambda _msg: None)
    root = cache_root(cache_dir)
    version = engine_version(engine)
    home = root / "homes" / f"{engine}-{version}"
    wanted = _wanted_stamp(engine)
    if _read_stamp(home) == wanted:
        return home
    with _locked(root / "locks" / f"{engine}.lock"):
        # Another process may have finished while we waited for the lock.
        if _read_stamp(home) == wanted:
            return home
        downloads = root / "downloads" / f"{engine}-{version}"
        staging = Path(tempfile.mkdtemp(prefix=f".{engine}-", dir=_mkdir(home.parent)))
        try:
            if engine == "opensearch":
                built = _assemble_opensearch(downloads, staging, say)
            else:
                built = _assemble_elasticsearch(downloads, staging, say)
            _make_world_readable(built)
            (built / STAMP_NAME).write_text(json.dumps(wanted, indent=1) + "\n")
            if home.exists():
                shutil.rmtree(home)
            built.rename(home)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        _make_world_readable(root, recursive=False)
        say(f"{engine} {version} ready at {home}")
        return home


def fetch_all(progress: Progress | None = None, *, cache_dir: Path | None = None) -> dict[str, Path]:
    """Fetch and assemble every engine; meant for CI set-up (`fetch_all(print)`)."""
    return {e: ensure_distribution(e, cache_dir=cache_dir, progress=progress) for e in ENGINES}


# -- assembly -----------------------------------------------------------------


def _assemble_opensearch(downloads: Path, staging: Path, say: Callable[[str], None]) -> Path:
    zip_path = _fetch(OPENSEARCH_ZIP, downloads, say)
    home = _unpack(zip_path, staging)
    for module in OPENSEARCH_MODULES:
        _build_module(module, home / "modules" / module.name, downloads / module.name, say)
    plugin_zips = [_fetch(coords, downloads, say) for coords in OPENSEARCH_PLUGINS]
    plugin_zips += _extra_plugin_zips()
    java_home = java_home_for("opensearch")
    for plugin_zip in plugin_zips:
        say(f"installing plugin {plugin_zip.name}")
        _run(
            [str(home / "bin" / "opensearch-plugin"), "install", "--batch", plugin_zip.as_uri()],
            what=f"opensearch-plugin install {plugin_zip.name}",
            env={**os.environ, "OPENSEARCH_JAVA_HOME": str(java_home), "JAVA_HOME": str(java_home)},
        )
    return home


def _assemble_elasticsearch(downloads: Path, staging: Path, say: Callable[[str], None]) -> Path:
    zip_path = _fetch(ELASTICSEARCH_ZIP, downloads, say)
    return _unpack(zip_path, staging)


def _build_module(module: _Module, target: Path, dl: Path, say: Callable[[str], None]) -> None:
    """Lay out a module folder the way the full distribution ships it."""
    if not any(dl.glob("*.jar")):
        say(f"fetching {module.artifact}:{OPENSEARCH_VERSION} and its runtime jars")
        _copy_dependencies(module.artifact, OPENSEARCH_VERSION, dl)
    target.mkdir(parents=True)
    main_jar: Path | None = None
    artifact_id = module.artifact.split(":")[1]
    for jar in sorted(dl.glob("*.jar")):
        shutil.copy2(jar, target / jar.name)
        if jar.name == f"{artifact_id}-{OPENSEARCH_VERSION}.jar":
            main_jar = jar
    if main_jar is None:
        raise ClusterError(f"{artifact_id}-{OPENSEARCH_VERSION}.jar missing from {dl}")
    with zipfile.ZipFile(main_jar) as archive:
        names = set(archive.namelist())
    classname = next((c for c in module.classnames if c.replace(".", "/") + ".class" in names), None)
    if classname is None:
        raise ClusterError(f"no plugin class {module.classnames} in {main_jar}")
    descriptor = {
        "description": module.description,
        "version": OPENSEARCH_VERSION,
        "name": module.name,
        "classname": classname,
        "java.version": "11",
        "opensearch.version": OPENSEARCH_VERSION,
        "custom.foldername": "",
        "extended.plugins": "",
        "has.native.controller": "false",
    }
    lines = [f"{k}={v}" for k, v in descriptor.items()]
    (target / "plugin-descriptor.properties").write_text("\n".join(lines) + "\n")
    (target / "plugin-security.policy").write_text(module.policy)


# -- maven --------------------------------------------------------------------


def _fetch(coords: str, dest: Path, say: Callable[[str], None]) -> Path:
    """Copy one G:A:V:type artifact into `dest` (no-op if already there)."""
    _group, artifact, version, kind = coords.split(":")
    target = dest / f"{artifact}-{version}.{kind}"
    if target.is_file():
        return target
    say(f"fetching {coords}")
    _mkdir(dest)
    with tempfile.TemporaryDirectory(prefix="detect-mvn-") as cwd:
        # cwd is empty so mvn cannot pick up some unrelated pom.xml
        _run(
            [*_mvn(), f"{DEPENDENCY_PLUGIN}:copy", f"-Dartifact={coords}", f"-DoutputDirectory={dest}"],
            what=f"mvn copy {coords}",
            cwd=cwd,
        )
    if not target.is_file():
        raise ClusterError(f"mvn reported success but {target} is missing")
    return target


def _copy_dependencies(artifact: str, version: str, dest: Path) -> None:
    """Copy a jar and its runtime dependencies, minus OpenSearch core (already in lib/)."""
    group, artifact_id = artifact.split(":")
    pom = f"""<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>detect.local</groupId><artifactId>module-deps</artifactId><version>0</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>{group}</groupId><artifactId>{artifact_id}</artifactId><version>{version}</version>
      <exclusions>
        <exclusion><groupId>org.opensearch</groupId><artifactId>opensearch</artifactId></exclusion>
      </exclusions>
    </dependency>
  </dependencies>
</project>
"""
    _mkdir(dest)
    with tempfile.TemporaryDirectory(prefix="detect-mvn-") as cwd:
        (Path(cwd) / "pom.xml").write_text(pom)
        _run(
            [
                *_mvn(),
                f"{DEPENDENCY_PLUGIN}:copy-dependencies",
                "-DincludeScope=runtime",
                f"-DoutputDirectory={dest}",
            ],
            what=f"mvn copy-dependencies {artifact}:{version}",
            cwd=cwd,
        )


def _mvn() -> list[str]:
    mvn = shutil.which("mvn")
    if mvn is None:
        raise ClusterError("mvn not found on PATH; it is needed to fetch engine distributions")
    return [mvn, "-B", "-q"]


def _run(cmd: list[str], *, what: str, cwd: str | Path | None = None, env: dict[str, str] | None = None) -> None:
    proc = subprocess.run(cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    if proc.returncode != 0:
        raise ClusterError(f"{what} failed (exit {proc.returncode}): {_first_error(proc.stdout + proc.stderr)}")


def _first_error(output: str) -> str:
    """The most telling line of a tool's output, so the message stays one line."""
    lines = [ln.strip() for ln in output.splitlines() if ln.strip()]
    for line in lines:
        if "[ERROR]" in line or "ERROR:" in line or "Exception" in line:
            return line[:300]
    return lines[-1][:300] if lines else "no output"


# -- files --------------------------------------------------------------------


def _unpack(zip_path: Path, staging: Path) -> Path:
    """Unzip keeping unix modes (zipfile drops them) and return the single top folder."""
    with zipfile.ZipFile(zip_path) as archive:
        for info in archive.infolist():
            target = (staging / info.filename).resolve()
            if not target.is_relative_to(staging.resolve()):
                raise ClusterError(f"{zip_path.name}: entry {info.filename!r} escapes the archive")
            archive.extract(info, staging)
            mode = (info.external_attr >> 16) & 0o7777
            if mode:
                os.chmod(target, mode)
    tops = [p for p in staging.iterdir() if p.is_dir()]
    if len(tops) != 1:
        raise ClusterError(f"{zip_path.name}: expected one top-level folder, found {len(tops)}")
    return tops[0]


def _make_world_readable(path: Path, *, recursive: bool = True) -> None:
    """The node runs as another user and must read (and traverse) the home."""
    paths: Iterator[Path] = path.rglob("*") if recursive else iter(())
    for p in [path, *paths]:
        if p.is_symlink():
            continue
        mode = p.stat().st_mode
        extra = 0o055 if p.is_dir() else (0o044 | (0o011 if mode & 0o100 else 0))
        if mode & extra != extra:
            os.chmod(p, mode | extra)


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


@contextlib.contextmanager
def _locked(lock_path: Path) -> Iterator[None]:
    _mkdir(lock_path.parent)
    with open(lock_path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _wanted_stamp(engine: str) -> dict[str, object]:
    stamp: dict[str, object] = {"recipe": RECIPE, "engine": engine, "version": engine_version(engine)}
    if engine == "opensearch":
        stamp["modules"] = [m.name for m in OPENSEARCH_MODULES]
        stamp["plugins"] = list(OPENSEARCH_PLUGINS) + [str(p) for p in _extra_plugin_zips()]
    return stamp


def _read_stamp(home: Path) -> dict[str, object] | None:
    try:
        stamp = json.loads((home / STAMP_NAME).read_text())
    except (OSError, ValueError):
        return None
    return stamp if isinstance(stamp, dict) else None


def _extra_plugin_zips() -> list[Path]:
    raw = os.environ.get(EXTRA_PLUGINS_ENV, "")
    zips = [Path(p).resolve() for p in raw.split(os.pathsep) if p.strip()]
    for z in zips:
        if not z.is_file():
            raise ClusterError(f"{EXTRA_PLUGINS_ENV} names {z}, which is not a file")
    return zips


def _check_engine(engine: str) -> None:
    if engine not in ENGINES:
        raise ClusterError(f"unknown engine {engine!r}; expected one of {', '.join(ENGINES)}")
