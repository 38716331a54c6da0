"""Progress of long work as structured events, declared once: a step, and for counted work how much is done.

Steps report through a `Progress`; the CLI decides how it looks (a live bar on a terminal, plain lines elsewhere,
nothing in CI or for --format json). Counts travel as numbers, never inside the text. The step modules import
this one, so it imports nothing heavy: rich only when a display is made.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Protocol


class Progress(Protocol):
    def __call__(self, step: str, done: int | None = None, total: int | None = None) -> None:
        """`step` is about to happen; with `total`, it is item `done` of `total` (1-based)."""


def no_progress(step: str, done: int | None = None, total: int | None = None) -> None:
    """A Progress that shows nothing."""


def as_line(step: str, done: int | None = None, total: int | None = None) -> str:
    """The event as one line of text: `step (done/total)` for counted work."""
    return f"{step} ({done}/{total})" if total is not None and done is not None else step


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def progress_printer(*, enabled: bool, verbose: bool = False) -> Progress:
    """Progress lines on stderr, one per step. Silent for --format json (stdout stays one document) and in CI (where
    the `CI` variable is set, as GitHub Actions sets it) unless --verbose asks for them."""
    if not enabled or (in_ci() and not verbose):
        return no_progress
    from rich.console import Console
    from rich.markup import escape

    # emoji=False: a step names files, and rich would read `:100:` in one as an emoji code.
    console = Console(stderr=True, highlight=False, soft_wrap=True, emoji=False)

    def line(step: str, done: int | None = None, total: int | None = None) -> None:
        console.print(f"[dim]… {escape(as_line(step, done, total))}[/dim]")

    return line


@contextlib.contextmanager
def progress_display(*, enabled: bool, verbose: bool = False) -> Iterator[Progress]:
    """Progress for long work: on a terminal a live bar (spinner, step, count, elapsed time) that clears when done;
    elsewhere the plain lines of `progress_printer`."""
    from rich.console import Console

    console = Console(stderr=True, highlight=False, soft_wrap=True, emoji=False)
    if not enabled or not console.is_terminal or (in_ci() and not verbose):
        yield progress_printer(enabled=enabled, verbose=verbose)
        return
    from rich.markup import escape
    from rich.progress import BarColumn, ProgressColumn, SpinnerColumn, Task, TextColumn, TimeElapsedColumn
    from rich.progress import Progress as Bar
    from rich.text import Text

    class Count(ProgressColumn):
        """done/total for counted work, and nothing for work of unknown size (rich's own column shows `0/?`)."""

        def render(self, task: Task) -> Text:
            return Text("" if task.total is None else f"{int(task.completed)}/{int(task.total)}", style="progress.download")

    # The step as plain text: a markup column would read its `[...]` as tags and `:100:` as an emoji code.
    columns = (SpinnerColumn(), TextColumn("{task.description}", markup=False), BarColumn(), Count(), TimeElapsedColumn())
    with Bar(*columns, console=console, transient=True) as bar:
        task = bar.add_task("starting", total=None)

        def advance(step: str, done: int | None = None, total: int | None = None) -> None:
            if total is not None and done is not None:
                bar.update(task, description=step, completed=done - 1, total=total)
            else:
                bar.update(task, description=step, completed=0)
                # update() reads total=None as "keep the total": an uncounted step after a counted one would show
                # the old count. The task itself can be told its size is unknown again (the bar then pulses).
                for shown in bar.tasks:
                    if shown.id == task:
                        shown.total = None
            if verbose:
                bar.console.print(f"[dim]… {escape(as_line(step, done, total))}[/dim]")

        yield advance
