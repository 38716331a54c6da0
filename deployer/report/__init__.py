"""Every command's output, in one place: `emit(result, output)` shows one step's result in one format.

  text    for people (report.text): problem and diff lines on stdout, verdicts styled
  json    for machines (report.as_json): one JSON document on stdout
  github  for GitHub Actions (report.github): annotations and a job summary, then the text

The renderers of one result type share a name in those modules (`validation`, `proof`, ...). A result type has
renderers for the formats its command offers; one with nothing to annotate shows its text under github.
Progress while a step works is report.progress; the log lines on stderr (warnings, --verbose) are set up here.
The step modules import this package (for Progress), so it loads no renderer and no rich until something is shown.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    from deployer.authoring.adopt import ImportReport
    from deployer.cluster.local import ClusterReport
    from deployer.deploy.run import DeployReport, RuleDiff
    from deployer.prove import ProofReport
    from deployer.report.progress import Progress
    from deployer.rules.model import JSON
    from deployer.rules.ruleset import Validation
    from deployer.targets.base import PlanEntry

    Result = Validation | ProofReport | DeployReport | list[RuleDiff] | ImportReport | ClusterReport | JSON

PLAIN_FORMATS = ("text", "json")  # --format of the commands whose results point into no file (cluster)
FORMATS = (*PLAIN_FORMATS, "github")  # --format of the commands whose results point into rule files

# A result's type, by name, -> the name of its renderers. By name rather than the type itself: importing every
# result type here would load deploy, prove and the cluster code for a `detect validate`.
_RENDERER_NAMES = {
    "Validation": "validation",  # detect validate
    "dict": "payload",  # detect show: a target's payload, a JSON document already
    "ProofReport": "proof",  # detect test
    "DeployReport": "deploy",  # detect deploy
    "list": "diffs",  # detect diff: one RuleDiff per rule and target (the one step whose result is a list)
    "ImportReport": "imported",  # detect import
    "ClusterReport": "cluster",  # detect cluster up, status, down
}


def emit(result: Result, output: str = "text", **github_context: Any) -> None:
    """Show `result` as `output` ("text", "json" or "github"). `github_context` goes to the github renderer alone
    (`fixtures_root` for a proof, where its annotations point)."""
    name = renderer_name(result)
    if output == "json":
        from deployer.report import as_json

        as_json.dump(getattr(as_json, name)(result))
        return
    if output == "github":
        from deployer.report import github

        annotate = getattr(github, name, None)
        if annotate is not None:
            annotate(result, **github_context)
    elif output != "text":
        raise ValueError(f"unknown output format {output!r}; known: {', '.join(FORMATS)}")
    from deployer.report import text

    getattr(text, name)(result)


def renderer_name(result: object) -> str:
    try:
        return _RENDERER_NAMES[type(result).__name__]
    except KeyError:
        raise TypeError(f"no renderer for a {type(result).__name__}; known: {', '.join(_RENDERER_NAMES)}") from None


def plan(entries: list[PlanEntry], *, header: str, output: str) -> None:
    """The plan before it is applied (and before a protected environment's question): for people, so never in
    json, whose stdout stays the one document of the report that follows."""
    if output != "json":
        from deployer.report import text

        text.plan(entries, header=header)


def progress_lines(output: str, *, verbose: bool) -> Progress:
    """Progress while a step works, one line per step on stderr; none for json, whose stdout is one document."""
    from deployer.report.progress import progress_printer

    return progress_printer(enabled=output != "json", verbose=verbose)


def progress_bar(output: str, *, verbose: bool) -> AbstractContextManager[Progress]:
    """Like progress_lines, but a live bar on a terminal; for work nothing else writes to the terminal meanwhile."""
    from deployer.report.progress import progress_display

    return progress_display(enabled=output != "json", verbose=verbose)


def warnings_to_stderr() -> None:
    """Settings that weaken a run (`tls.verify = false`) are said on every run, as `warning: ...` lines."""
    import logging

    warnings_log = logging.getLogger("detect.warnings")  # deployer.environments's, named here to keep start-up light
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("warning: %(message)s"))
    warnings_log.addHandler(handler)
    warnings_log.propagate = False  # --verbose's handler on `detect` would print each twice


def verbose_logging(verbose: bool) -> None:
    """With --verbose, every step's log (each HTTP request, credentials masked) on stderr as `logger: message`."""
    if verbose:
        import logging

        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
        logger = logging.getLogger("detect")
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)
