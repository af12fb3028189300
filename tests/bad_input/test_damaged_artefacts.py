"""Damaged artefacts the tool wrote (index, adapter, checkpoint, ledger): one line naming what is damaged
and what to do, never a crash, and nothing else touched."""
import json
import shutil
import subprocess
import sys

import pytest

from tests.fakes import assert_clean_failure, build_tiny_embedder, invoke

DAMAGE = {
    "truncated": lambda f: f.write_bytes(f.read_bytes()[:4096]),
    "empty": lambda f: f.write_bytes(b""),
    "overwritten header": lambda f: f.write_bytes(b"garbage, not a database" + f.read_bytes()[23:]),
    "scrambled pages": lambda f: f.write_bytes(f.read_bytes()[:16384] + b"\xa5" * 40000 + f.read_bytes()[56384:]),
}


@pytest.fixture(scope="module")
def built_index(tmp_path_factory):
    root = tmp_path_factory.mktemp("idx")
    embedder = build_tiny_embedder(root / "emb")
    (root / "docs").mkdir()
    for i in range(20):
        (root / "docs" / f"{i}.txt").write_text(f"Refunds number {i} take five business days. " * 20)
    result = invoke(["index", "build", str(root / "docs"), "--index", str(root / "index"), "--embedder", str(embedder)])
    assert result.exit_code == 0, result.output
    return root, embedder


@pytest.mark.parametrize("damage", sorted(DAMAGE))
@pytest.mark.parametrize("command", [["index", "info"], ["index", "update", "{docs}"],
                                     ["index", "eval", "{qa}"]])
def test_damaged_index_sqlite_is_named(built_index, tmp_path, damage, command):
    root, embedder = built_index
    index = tmp_path / "index"
    shutil.copytree(root / "index", index)
    DAMAGE[damage](index / "chroma.sqlite3")
    qa = tmp_path / "qa.jsonl"
    qa.write_text(json.dumps({"question": "refunds?", "answer": "five days", "source": "1.txt"}) + "\n")
    args = [a.format(docs=root / "docs", qa=qa) for a in command]
    result = invoke([*args, "--index", str(index), "--embedder", str(embedder)])
    assert_clean_failure(result, str(index / "chroma.sqlite3"), "the index is damaged", "index build")


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_damaged_index_stderr_is_one_error_line(built_index, tmp_path, damage):
    """Seen from a shell: Chroma's Rust core prints a panic and backtrace straight to stderr on some damage
    (scrambled system tables), which CliRunner cannot see; the index is checked before Chroma opens it."""
    root, embedder = built_index
    index = tmp_path / "index"
    shutil.copytree(root / "index", index)
    DAMAGE[damage](index / "chroma.sqlite3")
    run = subprocess.run([sys.executable, "-m", "tunewise.cli.main", "index", "info", "--index", str(index),
                          "--embedder", str(embedder)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 1
    assert run.stderr.strip().splitlines() == [
        f"Error: {index / 'chroma.sqlite3'}: the index is damaged ({REASON[damage]}); move {index} away and run "
        "`tunewise index build` again"]


REASON = {"truncated": "database disk image is malformed", "empty": "the file is empty",
          "overwritten header": "file is not a database", "scrambled pages": "database disk image is malformed"}


@pytest.fixture(scope="module")
def adapter(tmp_path_factory):
    """A real LoRA adapter on the tiny model, saved by peft."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from tests.fakes import build_tiny_llama

    root = tmp_path_factory.mktemp("adapter")
    base = build_tiny_llama(root / "tiny")
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(base), LoraConfig(r=2, target_modules=["q_proj"]))
    model.save_pretrained(root / "lora", safe_serialization=True)
    return root / "lora"


WEIGHTS = "adapter_model.safetensors"
ADAPTER_DAMAGE = {
    "weights truncated": (lambda a: (a / WEIGHTS).write_bytes((a / WEIGHTS).read_bytes()[:-64]), WEIGHTS),
    "weights cut to the header": (lambda a: (a / WEIGHTS).write_bytes((a / WEIGHTS).read_bytes()[:40]), WEIGHTS),
    "weights empty": (lambda a: (a / WEIGHTS).write_bytes(b""), WEIGHTS),
    "weights missing": (lambda a: (a / WEIGHTS).unlink(), "no weights file"),
    "config nonsense": (lambda a: (a / "adapter_config.json").write_text("[1, 2]"), "adapter_config.json"),
    "config broken": (lambda a: (a / "adapter_config.json").write_text('{"peft_type": "LO'), "adapter_config.json:1"),
    "run.json nonsense": (lambda a: (a / "run.json").write_text('{"method": "lora"}'), "run.json"),
}


@pytest.mark.parametrize("damage", sorted(ADAPTER_DAMAGE))
def test_damaged_adapter_is_named(adapter, tmp_path, damage):
    broken = tmp_path / "lora"
    shutil.copytree(adapter, broken)
    apply, fragment = ADAPTER_DAMAGE[damage]
    apply(broken)
    result = invoke(["export", str(broken), "--out", str(tmp_path / "merged"), "--merge"])
    assert_clean_failure(result, fragment, "damaged")
    assert not (tmp_path / "merged").exists()


def test_damaged_adapter_is_named_before_generation(adapter, tmp_path):
    from tunewise.core.errors import DamagedFileError
    from tunewise.retrieval.generate import make_generator

    broken = tmp_path / "lora"
    shutil.copytree(adapter, broken)
    ADAPTER_DAMAGE["weights truncated"][0](broken)
    base = json.loads((adapter / "adapter_config.json").read_text())["base_model_name_or_path"]
    with pytest.raises(DamagedFileError, match="truncated safetensors"):
        make_generator(base, adapter=broken)


@pytest.mark.parametrize("files, fragment", [
    ({"trainer_state.json": '{"global_step": 2}'}, "missing optimizer.pt, scheduler.pt"),
    ({"trainer_state.json": "{", "optimizer.pt": "", "scheduler.pt": ""}, "trainer_state.json:1"),
    ({"trainer_state.json": "[]", "optimizer.pt": "", "scheduler.pt": ""}, "not a trainer state"),
    ({"trainer_state.json": '{"global_step": 2}', "optimizer.pt": "", "scheduler.pt": ""}, "no weights file"),
    ({"trainer_state.json": '{"global_step": 2}', "optimizer.pt": "", "scheduler.pt": "",
      WEIGHTS: "\x10\x00\x00\x00\x00\x00\x00\x00{}"}, "header runs past the end"),
])
def test_damaged_checkpoint_is_named_before_resuming(tiny_model, tmp_path, files, fragment):
    out = tmp_path / "run"
    checkpoint = out / "checkpoints" / "checkpoint-2"
    checkpoint.mkdir(parents=True)
    for name, text in files.items():
        (checkpoint / name).write_text(text)
    data = tmp_path / "d.jsonl"
    data.write_text('{"prompt": "hi", "completion": "hello"}\n' * 3)
    result = invoke(["tune", "--model", str(tiny_model), "--train", str(data), "--out", str(out), "--resume",
                     "--max-steps", "4"])
    assert_clean_failure(result, "checkpoint-2", fragment, "damaged")
    assert sorted(p.name for p in checkpoint.iterdir()) == sorted(files)
