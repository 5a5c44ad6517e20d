"""The committed benchmark results: present, complete, made by this harness, on the Speed page.

The benchmark itself is not run here (`python -m benchmarks.run`, see docs/speed.md).
"""

import json

import pytest

from benchmarks import summary

KEYS = {"harness_fingerprint", "command", "started", "finished", "machine", "settings", "peaks",
        "inference", "torch_inference", "training", "bf16_agreement", "build_and_memory",
        "targets", "deploy", "input_pipeline", "backends", "fit"}


@pytest.fixture(scope="module")
def results():
    assert summary.RESULTS_JSON.is_file(), "run `python -m benchmarks.run` to make the results"
    return json.loads(summary.RESULTS_JSON.read_text())


def test_results_were_made_by_this_harness(results):
    assert results["harness_fingerprint"] == summary.fingerprint(), (
        "benchmarks/ or the fast paths it measures (keras_resnet/inference.py, layers.py) "
        "changed since the results were made: "
        "rerun `python -m benchmarks.run`")
    assert not results["settings"]["quick"]


def test_results_are_complete(results):
    assert KEYS <= set(results)
    machine = results["machine"]
    assert {"cpu", "cores", "tensorflow", "keras", "load_start", "load_end"} <= set(machine)
    assert results["peaks"]["fma_gflops"] > 0 and results["peaks"]["sgemm_gflops"] > 0
    measured = {(r["key"], r["dtype"], r["batch"]) for r in results["inference"]}
    for key in ("ka", "ours", "folded"):
        for dtype in ("fp32", "bf16"):
            assert {(key, dtype, 1), (key, dtype, 32)} <= measured
    trained = {(r["framework"], r["model"]) for r in results["training"]}
    assert {("keras_resnet", "resnet20"), ("keras_resnet", "resnet56")} <= trained
    resnet20 = {r.get("batchnorm") for r in results["training"] if r["model"] == "resnet20"
                and r["framework"] == "keras_resnet"}
    assert resnet20 == {"fused", "keras"}  # ours as built, and with Keras' BN for comparison
    for record in results["inference"] + results["training"]:
        assert record["img_s"] > 0 and len(record["img_s_runs"]) == results["settings"]["repeats"]
    assert all(m["peak_rss_mb"] > 0 and "build_s" in m for m in results["build_and_memory"]
               if m["model"] in ("ka", "ours", "folded"))
    fitted = {(r["model"], r["contender"]) for r in results["fit"]["fit"]}
    assert {(m, c) for m in ("resnet18", "resnet20", "resnet56", "resnet50")
            for c in ("keras_resnet", "torch NCHW", "torch channels_last")} <= fitted
    assert {r["model"] for r in results["fit"]["cli"]} >= {"resnet20", "resnet18"}
    for r in results["fit"]["fit"] + results["fit"]["cli"]:
        assert r["img_s"] > 0 and r["img_s_runs"]
        if r["contender"] == "keras_resnet":
            assert r["vs_torch"] > 0 and 0 < r["fma_peak_share"] < 1
    deploy = results["deploy"]
    assert {(r["key"], r["batch"]) for r in deploy["speed"]} == {
        (key, batch) for key in ("tf_fp32_folded", "ort_fp32", "ort_int8", "tflite_int8")
        for batch in (1, 32)}
    assert {r["model"] for r in deploy["accuracy"]} == {"resnet20", "resnet18"}
    measured_backends = {b["backend"] for b in results["backends"]["backends"]}
    assert {"tensorflow", "jax", "torch"} <= measured_backends  # the test extra has all three
    for entry in results["backends"]["backends"]:
        tasks = {(r["task"], r["batch"]) for r in entry["records"]}
        assert tasks == {("inference", 32), ("inference", 1), ("training", 128)}, entry["backend"]
        # the same weights: every backend computes TensorFlow's logits
        assert entry["max_abs_diff_from_tensorflow"] <= 1e-4 * entry["logits_scale"]
    for name in ("unfolded / keras.applications, fp32 batch 32",
                 "folded / keras.applications, fp32 batch 32",
                 "folded fp32 batch 32, fraction of FMA peak",
                 "bf16 / fp32, keras_resnet unfolded, batch 32"):
        assert results["targets"][name]["value"] > 0


def test_chart_and_readme_table_match_the_results(results):
    assert summary.CHART_PNG.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    readme = (summary.ROOT / "docs" / "speed.md").read_text()  # the Speed page
    assert summary.readme_section(readme) == summary.render_table(results)


def test_backend_rows_show_every_backend():
    entry = dict(backend="jax", versions={"jax": "0.10.2"}, build_s=1.5, peak_rss_mb=900.0,
                 max_abs_diff_from_tensorflow=2e-6, logits_scale=3.0,
                 records=[dict(task="inference", batch=32, img_s=40.0),
                          dict(task="inference", batch=1, img_s=30.0),
                          dict(task="training", batch=128, img_s=800.0)])
    lines = summary.backend_rows(dict(size=224, backends=[entry], skipped=["torch: not installed"]))
    assert "| jax 0.10.2 | 40.0 | 30.0 | 800 | 1.50 | 900 | 2.0e-06 |" in lines
    assert lines[-1] == "Not measured: torch: not installed."


def test_fit_rows_set_each_path_against_the_faster_torch_layout():
    fit = [dict(model="resnet20", label="ResNet20 (CIFAR)", contender="keras_resnet",
                path="model.fit", batch=128, img_s=550.0, vs_torch=1.15, fma_peak_share=0.2),
           dict(model="resnet20", label="ResNet20 (CIFAR)", contender="torch NCHW",
                path="torch loop over a DataLoader", batch=128, img_s=430.0),
           dict(model="resnet20", label="ResNet20 (CIFAR)", contender="torch channels_last",
                path="torch loop over a DataLoader", batch=128, img_s=480.0)]
    cli = [dict(fit[0], path="keras-resnet train (paper-cifar recipe)", img_s=500.0,
                vs_torch=500.0 / 480.0, fma_peak_share=0.18)]
    lines = summary.fit_rows(dict(fit=fit, cli=cli))
    assert lines[2] == ("| ResNet20 (CIFAR), `model.fit` | 128 | 550.0 | 430.0 / 480.0 "
                        "| 1.15x | 20.0% |")
    assert lines[3] == ("| ResNet20 (CIFAR), `keras-resnet train (paper-cifar recipe)` | 128 "
                        "| 500.0 | 430.0 / 480.0 | 1.04x | 18.0% |")
    assert len(lines) == 4  # torch's own records are columns, not rows
