"""The registry commands of `keras-resnet`: list, params, summary, and their errors."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from keras_resnet import cli
from keras_resnet.registry import list_models

ROOT = Path(__file__).resolve().parents[1]


def test_list_prints_every_model(capsys):
    assert cli.main(["list"]) == 0
    out = capsys.readouterr().out
    for name in list_models():
        assert re.search(rf"^{name}\s", out, re.M), name
    assert "25,636,712" in out and "3.858" in out


def test_params_builds_and_compares_with_published_figures(capsys):
    assert cli.main(["params", "resnet18", "resnet20"]) == 0
    out = capsys.readouterr().out
    row18 = next(line for line in out.splitlines() if line.startswith("resnet18 "))
    # measured v1.5 trainable next to torchvision's, MACs next to Table 1
    assert row18.count("11,689,512") == 2
    assert "1.814" in row18 and "+0.8%" in row18
    row20 = next(line for line in out.splitlines() if line.startswith("resnet20 "))
    assert row20.count("269,722") == 2


def test_summary_with_options(capsys):
    code = cli.main(["summary", "resnet20", "--input-shape", "16", "24", "3", "--num-classes", "5"])
    assert code == 0
    out = capsys.readouterr().out
    assert "conv4_block3_out" in out and "(None, 5)" in out


@pytest.mark.parametrize("argv,message", [
    (["summary", "resnet99"], "Unknown model 'resnet99'"),
    (["summary", "resnet50", "--input-shape", "8", "8", "3"], "at least 32x32"),
    (["summary", "resnet50", "--variant", "v9"], "`variant` must be one of"),
    (["params", "nosuchnet"], "Unknown model"),
])
def test_errors_are_one_line_with_exit_code_2(argv, message, capsys):
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert message in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_python_dash_m_entry_point():
    result = subprocess.run([sys.executable, "-m", "keras_resnet", "summary", "--help"],
                            capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert result.returncode == 0 and "--input-shape" in result.stdout
    bad = subprocess.run([sys.executable, "-m", "keras_resnet", "frobnicate"],
                         capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert bad.returncode == 2 and "invalid choice" in bad.stderr


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    quickstart = re.search(r"## Quickstart.*?```bash\n(.*?)```", readme, re.S).group(1)
    commands = [line.split("#")[0].strip() for line in quickstart.splitlines() if line.strip()]
    assert len(commands) == 2, "the quickstart has exactly two set-up commands"
    ci = (ROOT / ".ci" / "run").read_text()
    test_command = next(c for c in commands if "test" in c)
    assert re.search(rf"^{re.escape(test_command)}$", ci, re.M)
