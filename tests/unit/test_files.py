import os
import stat

import pytest

from tunewise.core.errors import ConfigError, OutputExistsError
from tunewise.core.files import atomic_write_text, claim_output, mark_output, staged_dir


def test_atomic_write_leaves_no_temp_files(tmp_path):
    atomic_write_text(tmp_path / "a.json", "one")
    atomic_write_text(tmp_path / "a.json", "two")
    assert (tmp_path / "a.json").read_text() == "two"
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]


def test_claim_output_needs_force(tmp_path):
    out = tmp_path / "out"
    claim_output(out, force=False)
    out.mkdir()
    claim_output(out, force=False)  # an empty folder is fine
    (out / "x").write_text("keep me")
    with pytest.raises(OutputExistsError, match="pass --force"):
        claim_output(out, force=False)
    assert (out / "x").read_text() == "keep me"
    with pytest.raises(ConfigError, match="not written by tunewise"):
        claim_output(out, force=True)  # no marker: not ours to delete
    assert (out / "x").read_text() == "keep me"
    mark_output(out, "test")
    claim_output(out, force=True)
    assert not out.exists()


def test_claim_output_refuses_overlap_with_inputs(tmp_path):
    data = tmp_path / "work" / "train.jsonl"
    data.parent.mkdir()
    data.write_text("{}")
    for out in (data, data.parent, tmp_path, data.parent / "sub"):
        with pytest.raises(ConfigError, match="input"):
            claim_output(out, force=True, inputs=[data.parent if out.name == "sub" else data])
    assert data.read_text() == "{}"


def test_staged_dir_removes_partial_work_on_failure(tmp_path):
    with pytest.raises(RuntimeError):
        with staged_dir(tmp_path / "model") as stage:
            (stage / "half").write_text("x")
            raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []
    with staged_dir(tmp_path / "model") as stage:
        (stage / "full").write_text("x")
    assert [p.name for p in (tmp_path / "model").iterdir()] == ["full"]


def test_folder_mb_counts_files_and_skips_named_subfolders(tmp_path):
    from tunewise.core.files import folder_mb

    assert folder_mb(tmp_path / "missing") == 0.0
    (tmp_path / "a").write_bytes(b"x" * 2**20)
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "b").write_bytes(b"x" * 2**20)
    assert folder_mb(tmp_path) == 2.0
    assert folder_mb(tmp_path, skip=("checkpoints",)) == 1.0


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_atomic_write_honours_the_umask(tmp_path, umask, mode):
    previous = os.umask(umask)
    try:
        path = atomic_write_text(tmp_path / "report.md", "# report\n")
    finally:
        os.umask(previous)
    assert stat.S_IMODE(path.stat().st_mode) == mode
