"""`keras-resnet benchmark`: the table and JSON it prints on the smallest model (ResNet20,
32x32, batch 4, 2 rounds after 1 warm-up), the ISA it records, the FMA peak's choice of
vector width from the CPU's flags, and its one-line errors. No speed is asserted."""

import json
import math
import sys

import pytest

from keras_resnet import benchmark, cli

FAST = ["benchmark", "--model", "resnet20", "--batch", "4", "--rounds", "2", "--warmup", "1"]


@pytest.fixture(scope="module")
def trained_json():
    """One run of inference and --train, as JSON (the peak loop included)."""
    import contextlib
    import io
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert cli.main(FAST + ["--train", "--json"]) == 0
    return json.loads(out.getvalue())


def _finite_positive(value):
    return isinstance(value, (int, float)) and math.isfinite(value) and value > 0


def test_json_rows_are_positive_and_finite(trained_json):
    rows = trained_json["rows"]
    assert [r["what"].split(",")[0] for r in rows] == ["inference", "training"]
    for r in rows:
        assert r["batch"] == 4 and len(r["rounds"]) == 2
        for key in ("img_s", "min", "max", "q1", "q3", "ms_per_batch", "gflops"):
            assert _finite_positive(r[key]), (key, r)
        assert r["min"] <= r["img_s"] <= r["max"]
        assert r["ms_per_batch"] == pytest.approx(1000 * 4 / r["img_s"])
    assert "tf.function" in rows[0]["path"] and "model.fit" in rows[1]["path"]
    settings = trained_json["settings"]
    assert settings["image_size"] == 32 and settings["macs_per_image"] > 0


def test_json_records_the_machine_and_its_peak(trained_json):
    m, peak = trained_json["machine"], trained_json["peak"]
    assert m["cores"] >= 1 and m["cpu"] and m["keras"] and m["backend"] == "tensorflow"
    assert m["isa"] == benchmark.isa_names(benchmark.cpu_flags())
    assert peak["isa"] == benchmark.peak_isa(benchmark.cpu_flags())
    if peak["gflops"] is None:
        assert peak["source"].startswith("n/a")
        assert all(r["peak_share"] is None for r in trained_json["rows"])
    else:
        assert _finite_positive(peak["gflops"])
        assert all(_finite_positive(r["peak_share"]) for r in trained_json["rows"])


def test_table_has_a_header_and_a_row_per_measurement(capsys):
    assert cli.main(FAST + ["--no-peak"]) == 0
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert "cores, ISA " in lines[0] and "FMA peak not measured" in lines[0]
    assert lines[1].startswith("TensorFlow ") and "backend tensorflow" in lines[1]
    head = next(i for i, line in enumerate(lines) if line.startswith("what "))
    for column in ("batch", "img/s (median)", "spread (min-max)", "ms/batch", "% of FMA peak"):
        assert column in lines[head]
    row = lines[head + 2]
    assert row.startswith("inference, resnet20 32x32 float32") and row.endswith("n/a")
    assert "round 1/2" not in out + err  # progress: on stderr, and only on a terminal
    assert "Traceback" not in err


@pytest.mark.parametrize("flags, width", [
    ({"sse4_2", "avx", "avx2", "fma", "avx512f", "avx512_bf16", "amx_bf16"}, "avx512"),
    ({"avx2", "fma", "f16c"}, "avx2"),
    ({"avx2"}, None),  # AVX2 without FMA3 (no x86 part ships it, but the rule holds)
    ({"sse4_2", "avx"}, None),
    ({"fp", "asimd", "sve"}, None),  # an Arm server
    (set(), None),
])
def test_peak_width_follows_the_flags(flags, width):
    assert benchmark.peak_isa(flags) == width
    peak = benchmark.fma_peak(2, flags=flags, clock_ghz=2.0)
    if width is None:
        assert peak["gflops"] is None and peak["source"].startswith("n/a")
    else:
        per_cycle = {"avx512": 64, "avx2": 32}[width]
        assert peak["flop_per_cycle"] == per_cycle
        assert peak["gflops"] == pytest.approx(2 * 2.0 * per_cycle)


def test_isa_names():
    flags = {"fma", "avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile", "sse2"}
    assert benchmark.isa_names(flags) == ["AVX2", "FMA", "AVX-512", "AVX512_BF16", "AMX-BF16"]


def test_avx2_loop_runs_where_the_machine_has_it():
    """The 256-bit loop, the one an AVX2-only machine gets instead of a SIGILL."""
    if benchmark.peak_isa(benchmark.cpu_flags()) is None:
        pytest.skip("no AVX2+FMA here")
    gflops = benchmark.fma_loop_gflops(1, "avx2", seconds=0.05, runs=1)
    assert gflops is None or _finite_positive(gflops)  # None: no C compiler with OpenMP


@pytest.mark.parametrize("argv, message", [
    (["--fold", "--train"], "--fold is for inference"),
    (["--format", "onnx", "--dtype", "bfloat16"], "--format onnx exports a float32 model"),
    (["--rounds", "0"], "--rounds must be at least 1"),
    (["--warmup", "-1"], "--warmup must be 0 or more"),
])
def test_bad_combinations_are_one_line_errors(argv, message, capsys):
    assert cli.main(FAST[:3] + argv) == cli.EXIT_USAGE
    out, err = capsys.readouterr()
    assert out == "" and len(err.strip().splitlines()) == 1
    assert err.startswith("keras-resnet benchmark: error: ") and message in err


def test_onnx_without_the_extra_names_it(monkeypatch, capsys):
    import importlib.util
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "onnxruntime" else find_spec(name, *a))
    assert cli.main(FAST[:3] + ["--format", "onnx"]) == cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert "needs onnxruntime" in err and "keras-resnet-zoo[onnx]" in err


# ----------------------------------------------------------------------------- --compare torch

@pytest.fixture(scope="module")
def compared_json():
    """Inference and --train next to torch (torch alone builds the CIFAR nets)."""
    pytest.importorskip("torch")
    import contextlib
    import io
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert cli.main(FAST + ["--train", "--json", "--no-peak", "--compare", "torch"]) == 0
    return json.loads(out.getvalue())


def test_compare_torch_interleaves_both_layouts_and_takes_the_faster_per_round(compared_json):
    rows = {r["what"]: r for r in compared_json["rows"]}
    assert list(rows) == ["inference, resnet20 32x32 float32", "inference, torch NCHW",
                          "inference, torch channels_last", "training, resnet20 32x32 float32",
                          "training, torch NCHW", "training, torch channels_last"]
    for task in ("inference", "training"):
        ours = rows[f"{task}, resnet20 32x32 float32"]
        nchw, last = rows[f"{task}, torch NCHW"], rows[f"{task}, torch channels_last"]
        assert len(ours["rounds"]) == len(nchw["rounds"]) == len(last["rounds"]) == 2
        expected = [a / max(b, c) for a, b, c in zip(ours["rounds"], nchw["rounds"],
                                                    last["rounds"])]
        assert ours["vs_torch_rounds"] == pytest.approx(expected)
        assert ours["vs_torch"] == pytest.approx(sorted(expected)[0] / 2 + sorted(expected)[1] / 2)
        assert "CIFAR ResNet (option A) resnet20" in nchw["path"]
        assert "DataLoader" in nchw["path"] if task == "training" else "inference_mode" in nchw["path"]
        assert all(_finite_positive(r["img_s"]) for r in (ours, nchw, last))
    assert compared_json["settings"]["compare"] == "torch"


def test_compare_table_has_the_ratio_column(compared_json):
    text = benchmark.table(compared_json)
    assert "vs torch (min-max)" in text and "torch's faster layout in the same round" in text
    row = next(line for line in text.splitlines() if line.startswith("training, resnet20"))
    assert row.rstrip().endswith(")") and "x (" in row


def test_compare_builds_ours_in_timms_layout():
    # keras.applications' "v1" has no torch twin: ours is built as timm's v1.5 resnet50.
    assert benchmark.torch_counterpart("resnet50") == ("resnet50", "v1.5")
    assert benchmark.torch_counterpart("resnet50d") == ("resnet50d", None)
    assert benchmark.torch_counterpart("resnetv2_50") == ("resnetv2_50", None)
    assert benchmark.torch_counterpart("resnet56") == ("resnet56", None)
    with pytest.raises(ValueError, match="resnet50v2 .*no architecture in timm or torchvision"):
        benchmark.torch_counterpart("resnet50v2")


def test_a_worker_that_cannot_start_is_one_line(tmp_path, capsys):
    with pytest.raises(benchmark.WorkerError, match="^no torch here$"):
        benchmark.Worker([sys.executable, "-c", "print('error: no torch here')"])
    assert cli.main(FAST[:3] + ["--compare", "torch", "--no-peak",
                                "--torch-python", str(tmp_path / "missing")]) == cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert err.startswith("keras-resnet benchmark: error: --compare torch: cannot run ")


# ----------------------------------------------------------------------------- --backend

def test_backend_runs_the_command_again_on_that_backend(monkeypatch, capsys):
    """Keras is on TensorFlow in this process: the same command runs in a child with
    KERAS_BACKEND set; its output and exit status are the command's. (The measurement on
    JAX and torch runs in tests/backend_checks.py.)"""
    pytest.importorskip("jax")
    import subprocess
    calls = []

    def fake_run(command, env, stdout, text):
        calls.append((command, env["KERAS_BACKEND"]))
        return subprocess.CompletedProcess(command, 3, stdout='{"rows": []}\n')
    monkeypatch.setattr(subprocess, "run", fake_run)
    argv = FAST[:3] + ["--json", "--backend", "jax"]
    assert cli.main(argv) == 3
    assert calls == [([sys.executable, "-m", "keras_resnet", *argv], "jax")]
    assert capsys.readouterr().out == '{"rows": []}\n'
    calls.clear()
    assert cli.main(FAST + ["--no-peak", "--backend", "tensorflow"]) == 0  # this process'
    assert calls == [] and "backend tensorflow" in capsys.readouterr().out


def test_backend_without_its_package_names_the_extra(monkeypatch, capsys):
    import importlib.util
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "jax" else find_spec(name, *a))
    assert cli.main(FAST[:3] + ["--backend", "jax"]) == cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert err.strip() == ("keras-resnet benchmark: error: --backend jax needs the jax "
                           "package: install the extra keras-resnet-zoo[jax]")
