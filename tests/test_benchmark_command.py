"""`keras-resnet benchmark`: the table and JSON it prints on the smallest model (ResNet20,
32x32, batch 4, 2 rounds after 1 warm-up), the ISA it records, the FMA peak's choice of
vector width from the CPU's flags, and its one-line errors. No speed is asserted."""

import json
import math

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
