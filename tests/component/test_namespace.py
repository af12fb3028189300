"""The built wheel installs one package, `tunewise`, and nothing named `core`, `cli` or `eval`."""
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(ROOT)],
                   check=True, capture_output=True)
    return next(out.glob("tunewise-*.whl"))


def test_wheel_holds_only_the_tunewise_namespace(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert tops == {"tunewise"}
    for shipped in ("tunewise/eval/probes/general.jsonl", "tunewise/tuning/configs/lora.yaml",
                    "tunewise/cli/main.py", "tunewise/core/registry.py"):
        assert shipped in names


@pytest.mark.slow
def test_fresh_venv_from_the_wheel(wheel, tmp_path):
    """Dependencies come from this environment (no index needed); tunewise itself only from the wheel."""
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    Path(site, "zz_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", str(wheel)], check=True,
                   capture_output=True)
    run = lambda *args: subprocess.run([str(python), *args], capture_output=True, text=True, cwd=tmp_path)  # noqa: E731
    assert run("-c", "import core").returncode != 0
    assert run("-c", "import cli").returncode != 0
    shown = run("-c", "import sys, tunewise.eval.runner as r; print(r.__file__); "
                      "from click.testing import CliRunner; from tunewise.cli.main import cli; "
                      "res = CliRunner().invoke(cli, ['--help']); print(res.exit_code, 'torch' in sys.modules)")
    location, status = shown.stdout.strip().splitlines()[-2:]
    assert str(env_dir) in location and status == "0 False", shown.stderr
    doctor = subprocess.run([str(env_dir / "bin" / "tunewise"), "doctor"], capture_output=True, text=True)
    assert "python" in doctor.stdout.lower() and "Traceback" not in doctor.stderr, doctor.stderr
