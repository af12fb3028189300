"""`tunewise advise` (questionnaire or answers -> recommendation -> plan) and `tunewise assess` (data profile)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from tunewise.advisor.questions import (
    BY_KEY, QUESTIONS, Question, answers_path, applicable, read_answers_file, save_answers, saved_answers,
)
from tunewise.cli.advice_view import render_recommendation
from tunewise.cli.options import force_option, json_option, model_options, model_ref, reading_policy
from tunewise.cli.render import console, err_console, print_json, progress, table
from tunewise.core.defaults import DEFAULT_GENERATOR, MAX_NEW_TOKENS
from tunewise.core.errors import TunewiseError
from tunewise.core.files import claim_output

def _parse_flag(ctx: click.Context, param: click.Parameter, value: str | None) -> Any:
    if value is None:
        return None
    try:
        return BY_KEY[param.name].parse(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def answer_flags(func):
    """One `--key VALUE` option per question, parsed and validated exactly like the questionnaire."""
    for question in reversed(QUESTIONS):
        hint = "|".join(question.choices) if question.choices else ("yes|no" if question.kind == "bool" else "")
        func = click.option(question.flag, question.key, default=None, callback=_parse_flag,
                            metavar=f"[{hint}]" if hint else question.kind.upper(),
                            help=question.text)(func)
    return func


@click.command()
@click.option("--answers", "answers_file", type=click.Path(path_type=Path),
              help="Answers YAML (same keys as the flags); no questions are asked.")
@answer_flags
@click.option("--data", type=click.Path(path_type=Path), help="Training data: counts examples, checks quality.")
@click.option("--eval", "eval_path", type=click.Path(path_type=Path), help="Evaluation data (checks leakage).")
@click.option("--corpus", type=click.Path(path_type=Path), help="Corpus folder: counts documents and chunks.")
@click.option("--corpus-next", type=click.Path(path_type=Path),
              help="A later corpus snapshot; the plan then checks knowledge drift (needs --eval-next).")
@click.option("--eval-next", type=click.Path(path_type=Path),
              help="Questions about the facts that changed in --corpus-next.")
@model_options()
@click.option("--calibrate", multiple=True, type=click.Path(path_type=Path),
              help="A tuning run.json whose measured peak memory and speed correct the estimates (repeatable).")
@click.option("--exact-tokens", is_flag=True, help="Count tokens with the model's tokenizer, not chars/4.")
@click.option("-i", "--interactive", is_flag=True, help="Ask the questions even when answers are given.")
@click.option("--plan-out", type=click.Path(path_type=Path), help="Write a plan YAML that `compare` runs.")
@click.option("--pilot", is_flag=True, help="Measure the candidates cheaply on your data and rank by predicted quality.")
@click.option("--pilot-budget", default="10m", show_default=True, help="Wall-clock budget of the pilot (90s, 10m, 1h).")
@click.option("--max-new-tokens", default=MAX_NEW_TOKENS, show_default=True, type=click.IntRange(1, 4096),
              help="Length of the pilot's answers: give compare the same --max-new-tokens.")
@force_option
@json_option
@reading_policy
def advise(answers_file, data, eval_path, corpus, corpus_next, eval_next, model, api_base, api_key_env, calibrate, exact_tokens,
           interactive, plan_out, pilot, pilot_budget, max_new_tokens, force, as_json, reading, **flags) -> None:
    """Recommend zero/few-shot, RAG or fine-tuning, with reasons and estimates.

    With no --answers and no answer flags, a questionnaire asks the questions (answers are saved and
    offered as defaults next time); otherwise the answers come from the file and flags (flags win).
    """
    from tunewise.advisor.plan import AdviceRequest, advise as run_advice, build_plan, write_plan
    from tunewise.advisor.records import Answers

    given = {**(read_answers_file(answers_file) if answers_file else {}),
             **{k: v for k, v in flags.items() if v is not None}}
    ref = model_ref(model, api_base, api_key_env)
    asked = interactive or (answers_file is None and not given)
    if asked:
        given = questionnaire(given, api_base is not None)
    request = AdviceRequest(Answers(**given), data, eval_path, corpus, corpus_next, eval_next, ref,
                            tuple(calibrate), exact_tokens, reading)
    if plan_out is not None:  # refuse before any work is done
        claim_output(plan_out, force, [answers_file, data, eval_path, corpus, corpus_next, eval_next, *calibrate],
                     folder=False)
    rec = run_advice(request)
    pilot = pilot or (asked and data is not None and offer_pilot(rec, request, pilot_budget))
    if pilot:
        from tunewise.cli.pilot import pilot_advice

        return pilot_advice(rec, request, pilot_budget, plan_out, force, as_json, max_new_tokens)
    if plan_out is not None:
        write_plan(build_plan(rec, request, plan_out), plan_out, force)
    step = next_command(plan_out, answers_path() if asked else answers_file,
                        {"data": data, "eval": eval_path, "corpus": corpus}, model_flags(model, api_base))
    if as_json:
        print_json(rec.model_dump(mode="json"))
        err_console.print(f"Next: {step}", highlight=False, soft_wrap=True)
        return
    render_recommendation(rec)
    if plan_out is not None:
        console.print(f"\nPlan written to {plan_out}", highlight=False)
    console.print(f"Next: {step}", highlight=False, soft_wrap=True)


PLACEHOLDERS = {"data": "TRAIN.jsonl", "eval": "EVAL.jsonl"}   # what --plan-out needs besides answers


def next_command(plan_out: Path | None, answers: Path | None, files: dict[str, Path | None],
                 model_words: list[str]) -> str:
    """The exact command to run next: compare the written plan, or write one from these answers and files."""
    if plan_out is not None:
        return f"tunewise compare {plan_out} --out {plan_out.with_name(plan_out.stem + '-compare')}"
    words = [f"--{key} {path or PLACEHOLDERS[key]}" for key, path in files.items() if path or key in PLACEHOLDERS]
    return " ".join(["tunewise advise", f"--answers {answers or 'ANSWERS.yaml'}", *words, *model_words,
                     "--plan-out plan.yaml"])


def model_flags(model: str, api_base: str | None) -> list[str]:
    """The model options to repeat in the next command (none for the default bundled model)."""
    words = [f"--model {model}"] if api_base or model != DEFAULT_GENERATOR else []
    return words + ([f"--api-base {api_base}"] if api_base else [])


def hardware_defaults() -> dict[str, Any]:
    """Detected GPU memory and RAM, offered as the defaults of the hardware questions."""
    from tunewise.core.device import gpu_inventory, system_memory_gb

    gpus = gpu_inventory()
    ram = system_memory_gb()
    out: dict[str, Any] = {"gpu_memory_gb": round(sum(g.memory_gb for g in gpus[:1]), 1)}
    if ram:
        out["ram_gb"] = round(ram, 1)
    names = ", ".join(f"{g.name} ({g.memory_gb:.0f} GB)" for g in gpus) or "no GPU"
    err_console.print(f"Detected: {names}; {out.get('ram_gb', '?')} GB RAM.", highlight=False)
    return out


def questionnaire(given: dict[str, Any], is_api: bool) -> dict[str, Any]:
    """Ask every question that applies (defaults: given > saved > detected > built-in), saving after each.

    Questions that cannot apply are skipped (no model size or hardware for a model behind an API), and
    the count is recomputed as answers change which questions apply.
    """
    from tunewise.advisor.records import Answers

    stated = {**saved_answers(), **given}
    if is_api and "model_access" not in given:
        stated["model_access"] = "api-only"
    runs_here = not str(stated.get("model_access", "")).startswith("api")
    defaults = {**Answers().model_dump(), **(hardware_defaults() if runs_here else {}), **stated}
    answers: dict[str, Any] = {}
    err_console.print(f"[bold]Tunewise advisor[/bold]: {len(applicable(defaults))} questions; Enter keeps the "
                      f"default. Answers are saved in {answers_path()}.", highlight=False)
    for question in QUESTIONS:
        now = applicable({**defaults, **answers})
        if question not in now:
            continue
        answers[question.key] = ask(question, defaults.get(question.key), f"{now.index(question) + 1}/{len(now)}")
        save_answers({**saved_answers(), **answers})
    return answers


def offer_pilot(rec, request, budget: str) -> bool:
    """At the questionnaire's end, with training data given: offer to measure instead of trusting the rules,
    saying what it measures on and about how long it takes."""
    from rich.prompt import Confirm

    from tunewise.cli.pilot import pilot_estimate
    from tunewise.core.units import duration
    from tunewise.eval.pilot_plan import HOLDOUT_FRACTION
    from tunewise.eval.pilot_records import parse_budget

    seconds = pilot_estimate(rec, request, parse_budget(budget))
    on = ("your eval set" if request.eval is not None else
          f"a held-out slice of your training data ({HOLDOUT_FRACTION:.0%} of it, as no --eval was given)")
    try:
        return Confirm.ask(f"\nRun a pilot on your data now? It measures each candidate on {on} and takes about "
                           f"{duration(seconds)}, at most {budget} (--pilot-budget)", console=err_console, default=False)
    except EOFError:
        return False


def ask(question: Question, default: Any, position: str = "") -> Any:
    """Ask until the answer parses; EOF means the answers so far are kept for next time."""
    from rich.prompt import Prompt

    err_console.print(f"\n[bold]{position} {question.text}[/bold]\n[dim]{question.why}[/dim]", highlight=False)
    choices = list(question.choices) or (["yes", "no"] if question.kind == "bool" else None)
    while True:
        try:
            raw = Prompt.ask(f"  {question.key}", console=err_console, default=question.show(default),
                             choices=choices, show_choices=choices is not None)
        except EOFError:
            err_console.print()  # the prompt left the cursor mid-line; the error gets its own line
            raise TunewiseError(f"input ended before the questionnaire was finished; the answers so far are "
                                f"saved in {answers_path()}, so run `tunewise advise` again to resume") from None
        try:
            return question.parse(raw)
        except ValueError as exc:
            err_console.print(f"  [red]{exc}[/red]", highlight=False)


@click.command()
@click.argument("data", type=click.Path(path_type=Path))
@click.option("--eval", "eval_path", type=click.Path(path_type=Path), help="Evaluation set: checks leakage.")
@click.option("--corpus", type=click.Path(path_type=Path), help="Corpus folder to profile too.")
@click.option("--previous", type=click.Path(path_type=Path), help="An older corpus snapshot: share changed.")
@click.option("--model", default=DEFAULT_GENERATOR, show_default=True, help="Whose tokenizer counts tokens.")
@click.option("--fast", is_flag=True, help="Estimate tokens as chars/4 instead of loading a tokenizer.")
@click.option("--max-seq-len", default=512, show_default=True, type=click.IntRange(min=1),
              help="Records longer than this many tokens are reported as too long.")
@json_option
@reading_policy
def assess(data, eval_path, corpus, previous, model, fast, max_seq_len, as_json, reading) -> None:
    """Profile a dataset: size, tokens, labels, duplicates, leakage and volatility."""
    from tunewise.advisor.assess import profile_corpus, profile_dataset

    if previous is not None and corpus is None:
        raise click.BadParameter("--previous needs --corpus (the current snapshot)", param_hint="--previous")
    with progress(transient=True) as bar:
        bar.add_task("Assessing", total=None, info=str(data))
        profile = profile_dataset(data, eval_path, model, fast, max_seq_len)
        corpus_profile = profile_corpus(corpus, previous, fast=fast, reading=reading) if corpus else None
    if as_json:
        print_json({"data": profile.model_dump(mode="json"),
                    "corpus": corpus_profile.model_dump(mode="json") if corpus_profile else None})
        return
    render_profile(profile.model_dump(), f"Data profile: {data}")
    if corpus_profile is not None:
        render_profile(corpus_profile.model_dump(), f"Corpus profile: {corpus}")


def render_profile(values: dict[str, Any], title: str) -> None:
    warnings = values.pop("warnings")
    tokens = values.pop("tokens")
    rows = [[key, value] for key, value in values.items() if value is not None]
    rows.append(["tokens", f"total {tokens['total']}, mean {tokens['mean']}, p50 {tokens['p50']}, "
                           f"p95 {tokens['p95']}, max {tokens['max']} ({tokens['method']})"])
    console.print(table(title, ["measure", "value"], rows))
    for warning in warnings:
        console.print(f"[yellow]warning:[/yellow] {warning}", highlight=False)
    if not warnings:
        console.print("[green]No problems found.[/green]")
