"""Progress on stderr: plain lines off a terminal, a live bar on one, nothing in CI unless --verbose."""

from __future__ import annotations

import pytest

from deployer import render


@pytest.fixture(autouse=True)
def _not_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("CI", "TTY_COMPATIBLE", "FORCE_COLOR"):
        monkeypatch.delenv(name, raising=False)


def test_plain_lines_when_stderr_is_not_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    with render.progress_display(enabled=True) as progress:
        progress("opensearch: proving a.json (1/2)")
    assert capsys.readouterr().err == "… opensearch: proving a.json (1/2)\n"


@pytest.mark.parametrize(("ci", "verbose", "shown"), [("true", False, False), ("1", True, True), ("false", False, True)])
def test_quiet_in_ci_unless_verbose(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], ci: str,
                                    verbose: bool, shown: bool) -> None:
    monkeypatch.setenv("CI", ci)
    with render.progress_display(enabled=True, verbose=verbose) as progress:
        progress("reading deployed rules")
    assert ("reading deployed rules" in capsys.readouterr().err) is shown


def test_json_output_gets_no_progress(capsys: pytest.CaptureFixture[str]) -> None:
    with render.progress_display(enabled=False) as progress:
        progress("anything")
    assert capsys.readouterr().err == ""


def test_a_terminal_gets_a_bar_that_counts_and_clears(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("TTY_COMPATIBLE", "1")  # rich then treats the captured stderr as a terminal
    with render.progress_display(enabled=True) as progress:
        progress("opensearch: starting the node")
        progress("opensearch: proving b.json (2/3)")
    err = capsys.readouterr().err
    assert "proving b.json" in err and "1/3" in err and "(2/3)" not in err  # a bar at one of three done, not a line
    assert "\x1b[" in err  # cursor control of the live display (transient: it erases itself)
