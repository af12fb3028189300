import subprocess
import sys

from click.testing import CliRunner

from tunewise.cli.main import COMMANDS, cli

HEAVY = ("torch", "transformers", "chromadb", "sentence_transformers", "peft")


def test_help_imports_no_heavy_library():
    code = (
        "import sys\nfrom click.testing import CliRunner\nfrom tunewise.cli.main import cli\n"
        "r = CliRunner().invoke(cli, ['--help'])\nassert r.exit_code == 0, r.output\n"
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_every_command_is_listed_and_has_help():
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    for name in COMMANDS:
        assert name in result.output
        sub = CliRunner().invoke(cli, [name, "--help"])
        assert sub.exit_code == 0, sub.output


def test_version():
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0 and "tunewise, version" in result.output


def test_unknown_command_fails():
    result = CliRunner().invoke(cli, ["frobnicate"])
    assert result.exit_code == 2 and "No such command" in result.output


def test_doctor_without_loading_models():
    result = CliRunner().invoke(cli, ["doctor", "--skip-models"])
    assert result.exit_code == 0, result.output
    assert "OK   smollm2-135m-instruct: present" in result.output
    assert "FAIL" not in result.output


def test_console_script_turns_errors_into_one_line(tmp_path):
    """The real entry point: a user error is one line on stderr and a non-zero exit."""
    out = subprocess.run([sys.executable, "-m", "tunewise.cli.main", "doctor", "--bogus"], capture_output=True, text=True)
    assert out.returncode == 2 and "Traceback" not in out.stderr
