"""Fuzzing the readers users feed files to: data loaders, corpus reader, plan and answers readers.

Random bytes and random JSON/YAML structures must give a valid result or one clear TunewiseError
(single line), never another exception and never a hang (hypothesis' deadline catches slow inputs).
"""
import json
import tempfile
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tunewise.core.data import load_corpus, load_dataset
from tunewise.core.errors import TunewiseError

FUZZ = settings(max_examples=150, deadline=2000, suppress_health_check=[HealthCheck.too_slow])
SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20)
KEYS = st.sampled_from(["text", "label", "prompt", "completion", "question", "answer", "messages", "role",
                        "content", "id", "instruction", "output", "input", "context", "source", "task",
                        "train", "eval", "approaches", "tuning", "model"]) | st.text(max_size=8)
TREES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=5),
                     max_leaves=20)
RECORDS = st.dictionaries(KEYS, TREES, max_size=6)


def _one_clear_error_or_value(read, path):
    try:
        return read(path)
    except TunewiseError as exc:
        message = str(exc)
        assert message and "\n" not in message, message
        return None


def _in_tmp(name: str, content: bytes, read):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_bytes(content)
        return _one_clear_error_or_value(read, path)


@FUZZ
@given(content=st.binary(max_size=600), suffix=st.sampled_from([".jsonl", ".json", ".csv", ".txt", ""]))
def test_data_loader_on_random_bytes(content, suffix):
    _in_tmp(f"data{suffix}", content, load_dataset)


@FUZZ
@given(rows=st.lists(RECORDS | TREES, min_size=1, max_size=5), as_array=st.booleans())
def test_data_loader_on_random_json_structures(rows, as_array):
    if as_array:
        _in_tmp("data.json", json.dumps(rows).encode(), load_dataset)
    else:
        _in_tmp("data.jsonl", "".join(json.dumps(r) + "\n" for r in rows).encode(), load_dataset)


@FUZZ
@given(files=st.dictionaries(st.sampled_from(["a.txt", "b.md", "c.jsonl", "d.markdown"]),
                             st.binary(max_size=300) | RECORDS.map(lambda r: (json.dumps(r) + "\n").encode()),
                             min_size=1, max_size=4))
def test_corpus_reader_on_random_files(files):
    with tempfile.TemporaryDirectory() as tmp:
        for name, content in files.items():
            (Path(tmp) / name).write_bytes(content)
        _one_clear_error_or_value(load_corpus, Path(tmp))


def _read_plan(path):
    from tunewise.eval.runner import load_plan

    return load_plan(path)


def _read_answers(path):
    from tunewise.advisor.questions import read_answers_file

    return read_answers_file(path)


@FUZZ
@given(data=RECORDS | TREES, reader=st.sampled_from([_read_plan, _read_answers]))
def test_plan_and_answers_readers_on_random_yaml(data, reader):
    text = yaml.safe_dump(data, allow_unicode=True)
    _in_tmp("file.yaml", text.encode(), reader)


@FUZZ
@given(content=st.binary(max_size=400), reader=st.sampled_from([_read_plan, _read_answers]))
def test_plan_and_answers_readers_on_random_bytes(content, reader):
    _in_tmp("file.yaml", content, reader)


@FUZZ
@given(answers=st.fixed_dictionaries({}, optional={
    "task": st.sampled_from(["qa", "classification", "generation"]) | st.text(max_size=5),
    "labelled_examples": st.integers() | st.floats(allow_nan=True) | st.text(max_size=4),
    "budget_usd": st.floats(allow_nan=True, allow_infinity=True) | st.integers(),
    "long_tail": st.booleans() | st.text(max_size=4),
}))
def test_answers_reader_on_near_valid_answers(answers):
    _in_tmp("answers.yaml", yaml.safe_dump(answers).encode(), _read_answers)
