"""export-data: each provider format written from the user's data passes that format's published rules,
and the validator catches each rule broken."""
import json

import pytest

from tests.fakes import assert_clean_failure, invoke, write_jsonl
from tunewise.core.errors import DataError
from tunewise.core.provider_export import estimate_tokens, export_data, problem, validate_file

CHAT = [{"messages": [{"role": "user", "content": f"Where is the ferry {i}?"},
                      {"role": "assistant", "content": "At Tallow Quay."}]} for i in range(12)]


@pytest.fixture
def chat_data(tmp_path):
    return write_jsonl(tmp_path / "chat.jsonl", CHAT)


@pytest.mark.parametrize("fmt", ["openai-chat", "alpaca", "sharegpt"])
def test_exported_file_passes_the_format_rules(chat_data, tmp_path, fmt):
    out = tmp_path / f"{fmt}.jsonl"
    summary = export_data(chat_data, out, fmt, system="Be brief." if fmt != "alpaca" else None,
                          usd_per_1m_tokens=8.0, epochs=2)
    counts = validate_file(out, fmt)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == summary.examples == 12 and sum(counts) == summary.tokens_total
    assert summary.trained_tokens == 2 * summary.tokens_total
    assert summary.estimated_usd == round(summary.tokens_total * 2 * 8.0 / 1e6, 4)
    first = {"openai-chat": lambda r: r["messages"][0], "sharegpt": lambda r: r["conversations"][0],
             "alpaca": lambda r: r}[fmt](rows[0])
    assert first == {"openai-chat": {"role": "system", "content": "Be brief."},
                     "sharegpt": {"from": "system", "value": "Be brief."},
                     "alpaca": {"instruction": "Where is the ferry 0?", "input": "", "output": "At Tallow Quay."}}[fmt]


@pytest.mark.parametrize("fmt, row, message", [
    ("openai-chat", {"messages": [{"role": "user", "content": "hi"}]}, "at least one assistant message"),
    ("openai-chat", {"messages": [{"role": "robot", "content": "hi"}]}, "role 'robot'"),
    ("openai-chat", {"messages": [{"role": "user", "content": " "}, {"role": "assistant", "content": "a"}]},
     "empty content"),
    ("openai-chat", {"messages": [{"role": "user", "content": "a", "extra": 1}]}, "unrecognised key 'extra'"),
    ("openai-chat", {"prompt": "a"}, "messages"),
    ("alpaca", {"instruction": "", "input": "", "output": "a"}, "'instruction' is empty"),
    ("alpaca", {"instruction": "a", "output": "b"}, "exactly"),
    ("sharegpt", {"conversations": [{"from": "gpt", "value": "a"}, {"from": "human", "value": "b"}]}, "alternate"),
    ("sharegpt", {"conversations": [{"from": "human", "value": "a"}]}, "end with gpt"),
])
def test_each_broken_rule_is_found(fmt, row, message):
    assert message in (problem(fmt, row) or "")


def test_token_limit_and_multi_turn_alpaca_name_the_source_line(tmp_path, chat_data):
    with pytest.raises(DataError, match=r"chat.jsonl:1: openai-chat: the example is \d+ tokens, over the limit of 5"):
        export_data(chat_data, tmp_path / "o.jsonl", "openai-chat", max_tokens=5)
    multi = [{"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"},
                           {"role": "user", "content": "c"}, {"role": "assistant", "content": "d"}]}]
    with pytest.raises(DataError, match="m.jsonl:1: alpaca holds one question"):
        export_data(write_jsonl(tmp_path / "m.jsonl", multi), tmp_path / "o.jsonl", "alpaca")
    assert not (tmp_path / "o.jsonl").exists()
    assert estimate_tokens([{"role": "user", "content": "x" * 40}]) == 10 + 4 + 2


def test_cli_refuses_an_existing_output_without_force(chat_data, tmp_path):
    out = tmp_path / "train.jsonl"
    out.write_text("keep me\n")
    result = invoke(["export-data", str(chat_data), "--format", "openai-chat", "--out", str(out)])
    assert_clean_failure(result, "already exists", "--force")
    assert out.read_text() == "keep me\n"
    result = invoke(["export-data", str(chat_data), "--format", "openai-chat", "--out", str(out), "--force",
                     "--json", "--price-per-1m", "25"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["examples"] == 12 and validate_file(out, "openai-chat")
