"""Full disks, read-only and failing writes: one clear line, the previous good state intact, and a rerun
after freeing space completes. Real size-limited tmpfs mounts where the test may mount one (skipped with
the reason otherwise), and fault injection at the write calls everywhere."""
import errno
import json
import os
import subprocess

import pytest

from tests.fakes import assert_clean_failure, build_tiny_embedder, invoke, write_jsonl
from tunewise.core.files import atomic_write_text

SFT = [{"prompt": f"question {i}", "completion": f"answer {i}"} for i in range(8)]


def _mount(path, options):
    return subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True)


@pytest.fixture
def small_disk(tmp_path):
    """A 400 KB tmpfs; `remount(options)` resizes it or makes it read-only."""
    point = tmp_path / "disk"
    point.mkdir()
    result = _mount(point, "size=400k")
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({result.stderr.decode().strip() or 'not root'})")

    def remount(options):
        subprocess.run(["mount", "-o", f"remount,{options}", str(point)], check=True)
    yield point, remount
    subprocess.run(["umount", "-l", str(point)], check=False)


@pytest.fixture(scope="module")
def embedder(tmp_path_factory):
    return build_tiny_embedder(tmp_path_factory.mktemp("emb") / "tiny-embedder")


def _corpus(root, documents=60):
    docs = root / "docs"
    docs.mkdir()
    for i in range(documents):
        (docs / f"{i}.txt").write_text(f"Document {i}: refunds take {i} business days to process. " * 40)
    return docs


def test_read_only_outputs_are_one_line(small_disk, tmp_path, tiny_model, embedder):
    point, remount = small_disk
    remount("ro")
    data = write_jsonl(tmp_path / "d.jsonl", SFT)
    docs = _corpus(tmp_path, documents=2)
    for args in (["tune", "--model", str(tiny_model), "--train", str(data), "--out", str(point / "run")],
                 ["index", "build", str(docs), "--index", str(point / "idx"), "--embedder", str(embedder)],
                 ["advise", "--task", "qa", "--data", str(data), "--eval", str(data), "--plan-out",
                  str(point / "plan.yaml")]):
        assert_clean_failure(invoke(args), str(point), "Read-only file system", "choose a writable --out")
    assert list(point.iterdir()) == []


def test_index_build_on_a_full_disk_then_rerun_completes(small_disk, tmp_path, embedder):
    """Refused before writing: Chroma's Rust core was seen to hang (not fail) on ENOSPC mid-write."""
    point, remount = small_disk
    docs = _corpus(tmp_path)
    build = ["index", "build", str(docs), "--embedder", str(embedder), "--json"]
    reference = invoke([*build, "--index", str(tmp_path / "reference")])
    assert reference.exit_code == 0, reference.output
    expected = _json(reference)["chunks"]
    assert_clean_failure(invoke([*build, "--index", str(point / "idx")]), "not enough free space", "MB free",
                         "run the same command again")
    remount("size=64m")
    rerun = invoke([*build, "--index", str(point / "idx")])
    assert rerun.exit_code == 0, rerun.output
    assert _json(rerun)["chunks"] == expected  # finished, and no chunk stored twice


def _json(result):
    """The --json document, after any progress lines the libraries print on stderr."""
    return json.loads(result.output[result.output.index("{\n"):])


def _enospc(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_atomic_write_under_enospc_keeps_the_old_file(tmp_path, monkeypatch):
    target = atomic_write_text(tmp_path / "results.json", "old")
    monkeypatch.setattr(os, "fsync", _enospc)
    with pytest.raises(OSError):
        atomic_write_text(target, "new")
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["results.json"]


def test_plan_written_to_a_full_disk_is_one_line_and_the_old_plan_stays(tmp_path, monkeypatch):
    data = write_jsonl(tmp_path / "d.jsonl", SFT)
    plan = tmp_path / "plan.yaml"
    plan.write_text("old plan\n")
    monkeypatch.setattr(os, "fsync", _enospc)
    result = invoke(["advise", "--task", "qa", "--data", str(data), "--eval", str(data), "--plan-out", str(plan),
                     "--force"])
    assert_clean_failure(result, "No space left on device", "free some space")
    assert plan.read_text() == "old plan\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.jsonl", "plan.yaml"]


def test_checkpoint_save_on_a_full_disk_keeps_the_last_checkpoint_and_resumes(tiny_model, tmp_path, monkeypatch):
    import torch

    data = write_jsonl(tmp_path / "d.jsonl", SFT)
    out = tmp_path / "run"
    real_save, saves = torch.save, []

    def full_after_first_checkpoint(obj, f, *args, **kwargs):
        saves.append(str(f))
        if any("checkpoint-2" in s for s in saves):
            raise RuntimeError("[enforce fail at inline_container.cc:664] . unexpected pos 64 vs 0: file write failed")
        return real_save(obj, f, *args, **kwargs)

    monkeypatch.setattr(torch, "save", full_after_first_checkpoint)
    tune = ["tune", "--model", str(tiny_model), "--train", str(data), "--out", str(out), "--max-steps", "3",
            "--save-steps", "1", "--batch-size", "4"]
    assert_clean_failure(invoke(tune), "no space left on device", "finished work is kept")
    assert (out / "checkpoints" / "checkpoint-1" / "trainer_state.json").is_file()
    assert not (out / "run.json").exists()
    monkeypatch.setattr(torch, "save", real_save)
    resumed = invoke([*tune, "--resume", "--json"])
    assert resumed.exit_code == 0, resumed.output
    assert _json(resumed)["steps"] == 3
