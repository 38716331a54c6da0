"""Progress on stderr: plain lines off a terminal, a live bar on one, nothing in CI unless --verbose."""

from __future__ import annotations

import pytest

from deployer.report.progress import progress_display


@pytest.fixture(autouse=True)
def _not_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("CI", "TTY_COMPATIBLE", "FORCE_COLOR"):
        monkeypatch.delenv(name, raising=False)


def test_plain_lines_when_stderr_is_not_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    with progress_display(enabled=True) as progress:
        progress("opensearch: proving a.json", 1, 2)
    assert capsys.readouterr().err == "… opensearch: proving a.json (1/2)\n"


@pytest.mark.parametrize(("ci", "verbose", "shown"), [("true", False, False), ("1", True, True), ("false", False, True)])
def test_quiet_in_ci_unless_verbose(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], ci: str,
                                    verbose: bool, shown: bool) -> None:
    monkeypatch.setenv("CI", ci)
    with progress_display(enabled=True, verbose=verbose) as progress:
        progress("reading deployed rules")
    assert ("reading deployed rules" in capsys.readouterr().err) is shown


def test_json_output_gets_no_progress(capsys: pytest.CaptureFixture[str]) -> None:
    with progress_display(enabled=False) as progress:
        progress("anything")
    assert capsys.readouterr().err == ""


def test_a_terminal_gets_a_bar_that_counts_and_clears(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("TTY_COMPATIBLE", "1")  # rich then treats the captured stderr as a terminal
    with progress_display(enabled=True) as progress:
        progress("opensearch: starting the node")
        progress("opensearch: proving b.json", 2, 3)
    err = capsys.readouterr().err
    assert "proving b.json" in err and "1/3" in err and "(2/3)" not in err  # a bar at one of three done, not a line
    assert "\x1b[" in err  # cursor control of the live display (transient: it erases itself)


def on_terminal(arguments: list[str], *, env: dict[str, str] | None = None, timeout: float = 120.0) -> tuple[int, str]:
    """Run `arguments` with stdin, stdout and stderr on a real pseudo-terminal; its exit code and all it wrote there."""
    import os
    import pty
    import subprocess
    import time

    from tests.conftest import REPO

    environment = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "120", "LINES": "40",
                   "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])), **(env or {})}
    for name in ("CI", "TTY_COMPATIBLE", "FORCE_COLOR", "NO_COLOR"):
        environment.pop(name, None)
    leader, follower = pty.openpty()
    try:
        process = subprocess.Popen(arguments, cwd=REPO, env=environment, stdin=follower, stdout=follower, stderr=follower,
                                   start_new_session=True)
    finally:
        os.close(follower)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: every holder of the terminal's other end has closed it
                break
            if not chunk:
                break
            chunks.append(chunk)
        else:
            process.kill()
        return process.wait(timeout=30), b"".join(chunks).decode("utf-8", "replace")
    finally:
        os.close(leader)


def test_work_of_unknown_size_shows_no_count_on_a_terminal() -> None:
    import sys

    script = ("import time\n"
              "from deployer.report.progress import progress_display\n"
              "with progress_display(enabled=True) as progress:\n"
              "    progress('opensearch: downloading the engine')\n"
              "    time.sleep(0.5)\n"
              "    progress('opensearch: proving a.json', 1, 2)\n"
              "    time.sleep(0.5)\n"
              "    progress('opensearch: stopping the node')\n"
              "    time.sleep(0.5)\n")
    code, screen = on_terminal([sys.executable, "-c", script])
    assert code == 0, screen
    assert "downloading the engine" in screen and "stopping the node" in screen and "\x1b[" in screen
    assert "0/2" in screen  # counted work still shows its count
    assert "/?" not in screen, screen
    # Each frame of the live bar starts by erasing its line: the frames of the last, uncounted, step show no count.
    last_step = [frame for frame in screen.split("\x1b[2K") if "stopping the node" in frame]
    assert last_step and not any("0/2" in frame for frame in last_step), last_step


def test_counts_travel_as_numbers_not_text(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("TTY_COMPATIBLE", "1")
    with progress_display(enabled=True) as progress:
        progress("opensearch: proving c.json (7/9)")  # text that looks like a count is only text
    err = capsys.readouterr().err
    assert "(7/9)" in err and "6/9" not in err


@pytest.mark.parametrize("terminal", [False, True])
def test_steps_are_shown_as_written_not_as_markup_or_emoji(monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture[str], terminal: bool) -> None:
    """A step names files: rich would make `:100:` an emoji and `[bold]` a style, on the bar as in the lines."""
    if terminal:
        monkeypatch.setenv("TTY_COMPATIBLE", "1")
    with progress_display(enabled=True, verbose=True) as progress:
        progress("opensearch: proving x:100:y/[bold]rule.json", 1, 2)
    err = capsys.readouterr().err
    assert "x:100:y/[bold]rule.json" in err
    assert "\N{HUNDRED POINTS SYMBOL}" not in err
