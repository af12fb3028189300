"""`tunewise report DIR`: write a comparison folder's report again, or say in one line why there is none."""
from __future__ import annotations

from pathlib import Path

import click

from tunewise.cli.options import json_option
from tunewise.cli.render import console, print_json


@click.command()
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@json_option
def report(folder: Path, as_json: bool) -> None:
    """Write report.md, report.html and plots/ of FOLDER (a `compare --out`) again from its results.json."""
    from tunewise.eval.rereport import rewrite_report

    results = rewrite_report(folder)
    if as_json:
        print_json(results.model_dump(mode="json"))
        return
    console.print(f"Report: {folder / 'report.html'}  (also report.md; {len(results.approaches)} approaches, "
                  f"measured winner {results.winner})", highlight=False)
