"""Progress of long work as structured events, declared once: a step, and for counted work how much is done.

Steps report through a `Progress`; the CLI decides how it looks (a live bar on a terminal, plain lines elsewhere,
nothing in CI or for --format json). Counts travel as numbers, never inside the text.
"""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    def __call__(self, step: str, done: int | None = None, total: int | None = None) -> None:
        """`step` is about to happen; with `total`, it is item `done` of `total` (1-based)."""


def no_progress(step: str, done: int | None = None, total: int | None = None) -> None:
    """A Progress that shows nothing."""


def as_line(step: str, done: int | None = None, total: int | None = None) -> str:
    """The event as one line of text: `step (done/total)` for counted work."""
    return f"{step} ({done}/{total})" if total is not None and done is not None else step
