"""Progress as a log reads it (stderr not a terminal): timestamped lines per phase, and the compare
display's overall bar leaving reused approaches out of the work that the time left is estimated from."""
from __future__ import annotations

import io
import re

from rich.console import Console

from tunewise.cli.progress import CompareProgress, PlainProgress, split_stage

STAMP = r"\[\d\d:\d\d:\d\d\] "


def plain() -> tuple[PlainProgress, io.StringIO]:
    out = io.StringIO()
    return PlainProgress(console=Console(file=out, width=100)), out


def test_plain_progress_prints_start_quarters_and_end_with_timestamps():
    bar, out = plain()
    with bar:
        task = bar.add_task("lora: train", total=8, info="")
        for step in range(1, 9):
            bar.update(task, completed=step)
    lines = out.getvalue().splitlines()
    assert all(re.match(STAMP, line) for line in lines) and len(lines) == 5
    assert [re.sub(STAMP, "", line).split(",")[0] for line in lines[:4]] == [
        "lora: train: started (8 steps)", "lora: train: 25%", "lora: train: 50%", "lora: train: 75%"]
    assert re.search(r"lora: train: done in [\d.]+ (ms|s)$", lines[-1])


def test_a_phase_done_at_its_first_report_is_one_line():
    bar, out = plain()
    with bar:
        task = bar.add_task("zero-shot: predict", total=5, info="")
        bar.update(task, completed=5)
    assert len(out.getvalue().splitlines()) == 1 and "zero-shot: predict: done in" in out.getvalue()


def test_a_pilot_stage_done_at_its_first_report_is_timed_from_the_report_before():
    import time

    from tunewise.cli.render import stage_reporter

    bar, out = plain()
    with bar:
        report = stage_reporter(bar)
        report("pilot budget (s)", 0, 60)
        time.sleep(1.2)                                  # the one batch of zero-shot's answers
        report("pilot zero-shot: predict", 8, 8)
    done = re.search(r"pilot zero-shot: predict: done in ([\d.]+) (ms|s)$", out.getvalue(), re.MULTILINE)
    assert done.group(2) == "s" and 1.2 <= float(done.group(1)) < 10      # not "done in 0.0 ms"


def test_compare_progress_weighs_phases_by_estimates_and_leaves_reused_work_out():
    weights = {"zero-shot": {"predict": 10.0}, "lora": {"train": 60.0, "predict": 10.0}, "head": {"train": 20.0}}
    bar, out = plain()
    with bar:
        report = CompareProgress(bar, list(weights), weights)
        report("compare", 0, 3)
        report("zero-shot: reused", 1, 1)
        report("compare", 1, 3)
        report("lora train", 1, 4)
        overall = next(t for t in bar.tasks if t.description == "compare, overall")
        assert overall.completed == round(100 * 15 / 90, 1)   # a quarter of lora's 60 s of 90 s (zero-shot reused)
        report("lora train", 4, 4)
        report("lora: predict", 8, 8)
        assert overall.completed == round(100 * 70 / 90, 1)
        report("compare", 2, 3)
        assert overall.completed == round(100 * 70 / 90, 1)
        assert overall.fields["info"] == "2/3 approaches, 1 reused"
    text = out.getvalue()
    assert "zero-shot: reused from the finished run in this folder" in text
    assert "lora train: started (4 steps)" not in text and "lora: train: started (4 steps)" in text
    assert "lora: predict: done in" in text


def test_without_estimates_every_approach_weighs_the_same():
    bar, _ = plain()
    with bar:
        report = CompareProgress(bar, ["a", "b"])
        report("compare", 1, 2)
        overall = next(t for t in bar.tasks if t.description == "compare, overall")
        assert overall.completed == 50


def test_stage_names_from_the_runner():
    assert split_stage("lora: predict") == ("lora", "predict")
    assert split_stage("prompt-tuning train") == ("prompt-tuning", "train")
    assert split_stage("index-next: embed") == ("index-next", "embed")


def test_a_fully_reused_comparison_ends_with_the_overall_bar_full():
    bar, out = plain()
    with bar:
        report = CompareProgress(bar, ["zero-shot", "head"])
        for done, name in enumerate(("zero-shot", "head")):
            report("compare", done, 2)
            report(f"{name}: reused", 1, 1)
        report("compare", 2, 2)
        overall = next(t for t in bar.tasks if t.description == "compare, overall")
        assert overall.completed == 100
    assert out.getvalue().count("reused from the finished run") == 2
