"""`tunewise report DIR`: the report of a comparison folder written again (with this version's report
code), or one line saying why there is none: no comparison there, nothing finished, or unfinished."""
from __future__ import annotations

from pathlib import Path

from tunewise.core.errors import TunewiseError
from tunewise.core.files import read_json
from tunewise.core.results import Comparison


class NoReportError(TunewiseError):
    """The folder holds no finished comparison to report on; the message says what to run."""


def rewrite_report(folder: str | Path) -> Comparison:
    """Read `folder/results.json` and write report.md, report.html and the plots again from it."""
    from tunewise.eval.report import write_report

    folder = Path(folder)
    results = finished_results(folder)
    write_report(folder, results)
    return results


def finished_results(folder: Path) -> Comparison:
    if not (folder / "compare.json").is_file():
        raise NoReportError(f"{folder} holds no comparison (no compare.json): run `tunewise compare PLAN "
                            f"--out {folder}` first")
    done = sorted(p.stem for p in (folder / "approaches").glob("*.json"))
    if not done:
        raise NoReportError(f"the comparison in {folder} has no finished approach (it failed or was stopped "
                            "before the first one finished): rerun the same `tunewise compare` to resume it")
    if not (folder / "results.json").is_file():
        raise NoReportError(f"the comparison in {folder} is unfinished (finished so far: {', '.join(done)}): "
                            "rerun the same `tunewise compare` to finish it")
    if not read_json(folder / "results.json").get("approaches"):
        raise NoReportError(f"the comparison in {folder} has no results: every approach failed or none was run")
    return Comparison.load(folder / "results.json")
