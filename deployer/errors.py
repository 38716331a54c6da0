"""Problems are values with a location until the CLI renders them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one input file: where (the file, for line-oriented files such as NDJSON the 1-based
    `line`, and a JSON pointer inside the document, "" for all of it) and what."""

    file: str
    pointer: str
    message: str
    line: int | None = None

    @property
    def where(self) -> str:
        """The file as people and editors read a location: `file` or `file:line`."""
        return self.file if self.line is None else f"{self.file}:{self.line}"

    def __str__(self) -> str:
        return f"{self.where}: {self.pointer or '/'}: {self.message}"

    def __lt__(self, other: Problem) -> bool:
        return (self.file, self.line or 0, self.pointer, self.message) < (other.file, other.line or 0, other.pointer, other.message)


class DetectError(Exception):
    """Base of every error detect reports to its user as one line, without a traceback."""


class InvalidRules(DetectError):
    """Raised by steps that need valid input when checking it found problems (exit 1).

    `where` says which input holds them, as the summary line shows it: "in the rules", "in the fixtures",
    "in detect.toml". The raiser knows; a missing environment variable is not a problem in the rules.
    """

    def __init__(self, problems: list[Problem], *, where: str) -> None:
        self.problems = problems
        self.where = where
        super().__init__(f"{len(problems)} problem(s) {where}")


class UnsupportedByTarget(DetectError):
    """A valid rule that one target cannot express (for example an EQL sequence on OpenSearch)."""

    def __init__(self, pointer: str, message: str, *, cause: str | None = None) -> None:
        self.pointer = pointer
        self.cause = cause  # the reason in a few words, alike for every rule refused for it (None: the message's start)
        super().__init__(message)


def display_path(path: Path) -> str:
    """The path as a user typed it or relative to the working folder, so error lines stay short.

    A symlink is shown as itself, not as its target: the line must name the file the user has.
    """
    own = path.absolute().parent.resolve() / path.name if path.name not in ("", ".", "..") else path.resolve()
    try:
        return str(own.relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def display_url(url: str) -> str:
    """The URL without credentials written into it (`user:password@`), so no message ever carries them."""
    from urllib.parse import urlsplit, urlunsplit

    try:
        parts = urlsplit(url)
        if "@" not in parts.netloc:
            return url
        return urlunsplit(parts._replace(netloc="***@" + parts.netloc.rpartition("@")[2]))
    except ValueError:  # not a URL at all: still never show what precedes an @
        return "***@" + url.rpartition("@")[2] if "@" in url else url


def pointer_of(parts: Iterable[str | int]) -> str:
    """A JSON pointer (RFC 6901) for a sequence of keys and indexes."""
    tokens = (str(part).replace("~", "~0").replace("/", "~1") for part in parts)
    return "".join("/" + token for token in tokens)
