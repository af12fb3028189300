"""`tunewise doctor`: is this machine ready? Each line OK/FAIL with the fix."""
from __future__ import annotations


import click

from tunewise.cli.render import check_line, console


@click.command()
@click.option("--skip-models", is_flag=True, help="Do not load the bundled models (faster).")
def doctor(skip_models: bool) -> None:
    """Check Python, torch/CUDA, memory, disk, the bundled models and Chroma."""
    from tunewise.core.doctor import run_checks

    results = run_checks(load_models=not skip_models)
    for result in results:
        check_line(result.ok, result.name, result.detail, result.fix)
    failed = [r for r in results if not r.ok]
    if failed:
        raise click.ClickException(f"{len(failed)} check(s) failed: {', '.join(r.name for r in failed)}")
    console.print("All checks passed.")
