"""The committed benchmark results (present, complete, on the Speed page, saying what they
measured), the harness' record of provenance and staleness, and its import structure.

The benchmark itself is not run here (`python -m benchmarks.run`, see docs/speed.md). No test
here depends on the library's files: results older than the code are reported by
`python -m benchmarks.run --check`, not failed.
"""

import ast
import contextlib
import io
import json
import os
import pathlib
import subprocess

import pytest
from import_graph import find_cycle

from benchmarks import common, fit, summary

KEYS = {"provenance", "command", "started", "finished", "machine", "settings", "peaks",
        "inference", "torch_inference", "training", "bf16_agreement", "build_and_memory",
        "targets", "deploy", "input_pipeline", "backends", "fit"}
BENCHMARKS = common.ROOT / "benchmarks"


@pytest.fixture(scope="module")
def results():
    assert summary.RESULTS_JSON.is_file(), "run `python -m benchmarks.run` to make the results"
    return json.loads(summary.RESULTS_JSON.read_text())


def test_results_record_what_they_measured(results):
    prov = results["provenance"]
    assert len(prov["commit"]) == 40 and int(prov["commit"], 16) >= 0
    assert prov["dirty"] in (True, False, None)
    assert prov["dirty"] or not prov["dirty_paths"]
    # Made by this harness or an older one (the Speed section says which), never a newer one.
    assert isinstance(prov["harness_version"], int)
    assert 1 <= prov["harness_version"] <= common.HARNESS_VERSION
    assert prov["recorded_by"]
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
    readme = (common.ROOT / "docs" / "speed.md").read_text()  # the Speed page
    assert summary.readme_section(readme) == summary.speed_markdown() == summary.render_table(
        results)


def test_the_speed_section_says_which_commit_harness_and_machine():
    results = dict(provenance=dict(commit="abc1234" + "0" * 33, dirty=False, harness_version=3),
                   machine=dict(cpu="AMD EPYC 9B45", isa=["avx512f", "avx512_bf16"]))
    assert summary.provenance_line(results) == (
        "Measured at commit abc1234 (clean), harness v3, on AMD EPYC 9B45 "
        "(avx512f, avx512_bf16).")
    results["provenance"]["dirty"] = True
    assert "(uncommitted changes)" in summary.provenance_line(results)
    # Results from before the ISA list name AVX-512 and its bf16 through two flags.
    results["provenance"]["dirty"] = None
    results["machine"] = dict(cpu="Intel(R) Xeon(R) Processor", avx512=True, avx512_bf16=False)
    assert summary.provenance_line(results) == (
        "Measured at commit abc1234 (tree state not recorded), harness v3, on "
        "Intel(R) Xeon(R) Processor (avx512f).")


def test_the_cli_rows_are_labelled_with_the_model_the_cli_trains(results):
    """`keras-resnet train --model resnet18` trains the registry's resnet18, keras.applications'
    v1 with conv biases; the `model.fit` rows build torchvision's v1.5."""
    from keras_resnet.registry import REGISTRY
    assert REGISTRY["resnet18"].variant == "v1"
    assert " v1 " in fit.CLI_LABELS["resnet18"] and "v1.5" not in fit.CLI_LABELS["resnet18"]
    assert "v1.5" in fit.LABELS["resnet18"]
    assert {r["model"]: r["label"] for r in results["fit"]["cli"]} == {
        m: fit.CLI_LABELS[m] for m, _ in fit.CLI_CASES}


# ----------------------------------------------------------------------------- provenance

def _git(root, *args):
    env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.com",
               GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@example.com")
    return subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, text=True,
                          env=env).stdout.strip()


def _commit(root, message, files):
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", message)
    return _git(root, "rev-parse", "HEAD")


@pytest.fixture
def repo(tmp_path):
    _git(tmp_path, "init", "-q")
    _commit(tmp_path, "start", {"keras_resnet/layers.py": "a = 1\n", "benchmarks/run.py": "",
                                "benchmarks/results/results.json": "{}", "docs/index.md": ""})
    return tmp_path


def test_a_run_records_its_commit_and_whether_the_tree_was_dirty(repo):
    head = _git(repo, "rev-parse", "HEAD")
    prov = common.provenance(repo)
    assert (prov["commit"], prov["dirty"], prov["dirty_paths"]) == (head, False, [])
    assert prov["harness_version"] == common.HARNESS_VERSION
    (repo / "benchmarks/results/results.json").write_text('{"new": 1}')  # a run's own output
    (repo / "benchmarks/results/speed.png").write_text("")
    assert common.provenance(repo)["dirty"] is False
    (repo / "keras_resnet/layers.py").write_text("a = 2\n")
    (repo / "notes.txt").write_text("")
    prov = common.provenance(repo)
    assert prov["dirty"] is True
    assert sorted(prov["dirty_paths"]) == ["keras_resnet/layers.py", "notes.txt"]


def test_outside_git_a_run_records_no_commit(tmp_path):
    prov = common.provenance(tmp_path)
    assert (prov["commit"], prov["dirty"]) == (None, None)
    assert common.staleness(prov, tmp_path)["known"] is False


def test_staleness_lists_the_commits_that_touch_the_measured_code(repo):
    measured = common.provenance(repo)
    _commit(repo, "docs only", {"docs/index.md": "more"})
    library = _commit(repo, "a library change", {"keras_resnet/layers.py": "a = 2\n"})
    _commit(repo, "new results, new table", {"benchmarks/results/results.json": '{"a": 1}',
                                             "benchmarks/summary.py": "# renders\n"})
    harness = _commit(repo, "harness change", {"benchmarks/fit.py": ""})
    s = common.staleness(measured, repo)
    assert s["known"] and s["dirty_paths"] == []
    assert [(c["sha"], c["subject"], c["files"]) for c in s["commits"]] == [
        (harness, "harness change", ["benchmarks/fit.py"]),
        (library, "a library change", ["keras_resnet/layers.py"])]
    (repo / "keras_resnet/layers.py").write_text("a = 3\n")
    (repo / "docs/index.md").write_text("")
    assert common.staleness(measured, repo)["dirty_paths"] == ["keras_resnet/layers.py"]
    # A commit this checkout does not have (another branch, a shallow clone): unknown.
    assert common.staleness(dict(measured, commit="f" * 40), repo)["known"] is False


def test_the_status_report_says_what_changed_and_never_fails(repo, results):
    measured = dict(results, provenance=common.provenance(repo))
    report = summary.status_report(measured, repo)
    assert report.endswith("The results measure the code as it is now.\n")
    sha = _commit(repo, "faster layers", {"keras_resnet/layers.py": "a = 2\n"})
    report = summary.status_report(measured, repo)
    assert "1 commit(s) since then touch the measured code" in report
    assert f"  {sha[:7]} " in report and "      keras_resnet/layers.py" in report
    assert "rerun `python -m benchmarks.run`" in report
    older = dict(measured, provenance=dict(measured["provenance"], harness_version=0))
    assert "measures differently" in summary.status_report(older, repo)


def test_check_mode_reports_on_the_committed_results():
    from benchmarks import run
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert run.main(["--check"]) == 0
    assert out.getvalue().startswith("Measured at commit ")


# ----------------------------------------------------------------------------- structure

def _module_name(path: pathlib.Path) -> str:
    return "benchmarks" if path.stem == "__init__" else f"benchmarks.{path.stem}"


def import_graph(sources: dict) -> tuple:
    """(edges, private) of the benchmark modules `sources` ({module name: source}):
    edges[m] is the set of benchmark modules m imports (at module level or in a function),
    private the (importer, module, name) of each underscore name taken from another module,
    by `from benchmarks.x import _name` or as `x._name`."""
    modules = set(sources)
    edges = {m: set() for m in sources}
    private = []
    for name, source in sources.items():
        aliases = {}  # local name -> benchmark module it refers to
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Import):
                for a in node.names:
                    if a.name in modules and a.name != "benchmarks":
                        edges[name].add(a.name)
                    if a.asname:  # `import benchmarks.x as y` binds y to benchmarks.x
                        aliases[a.asname] = a.name
                    elif a.name.split(".")[0] == "benchmarks":  # it binds `benchmarks`
                        aliases["benchmarks"] = "benchmarks"
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    base = "benchmarks" + (f".{base}" if base else "")
                if base.split(".")[0] != "benchmarks":
                    continue
                for a in node.names:
                    submodule = f"{base}.{a.name}"
                    if base == "benchmarks" and submodule in modules:
                        edges[name].add(submodule)
                        aliases[a.asname or a.name] = submodule
                        continue
                    if base in modules and base != "benchmarks":
                        edges[name].add(base)
                    if a.name.startswith("_") and base != name:
                        private.append((name, base, a.name))
        for node in ast.walk(ast.parse(source)):
            if not (isinstance(node, ast.Attribute) and node.attr.startswith("_")
                    and not node.attr.startswith("__")):
                continue
            owner = None
            if isinstance(node.value, ast.Name):
                owner = aliases.get(node.value.id)
            elif (isinstance(node.value, ast.Attribute) and isinstance(node.value.value, ast.Name)
                  and aliases.get(node.value.value.id) == "benchmarks"):
                owner = f"benchmarks.{node.value.attr}"
            if owner and owner != name and owner != "benchmarks":
                private.append((name, owner, node.attr))
    for m in edges:
        edges[m].discard(m)
    return edges, private


def test_the_import_checker_finds_cycles_and_private_imports():
    edges, private = import_graph({
        "benchmarks.a": "from benchmarks import b\nb._helper()\n",
        "benchmarks.b": "def f():\n    from benchmarks.c import _x, y\n",
        "benchmarks.c": "def g():\n    import benchmarks.a\n    benchmarks.a._z()\n",
        "benchmarks.d": "from . import common\nfrom .common import shared\n",
        "benchmarks.common": "import os\n"})
    assert edges == {"benchmarks.a": {"benchmarks.b"}, "benchmarks.b": {"benchmarks.c"},
                     "benchmarks.c": {"benchmarks.a"}, "benchmarks.d": {"benchmarks.common"},
                     "benchmarks.common": set()}
    assert sorted(private) == [("benchmarks.a", "benchmarks.b", "_helper"),
                               ("benchmarks.b", "benchmarks.c", "_x"),
                               ("benchmarks.c", "benchmarks.a", "_z")]
    assert find_cycle(edges) == ["benchmarks.a", "benchmarks.b", "benchmarks.c", "benchmarks.a"]
    assert find_cycle({"x": {"y"}, "y": set()}) is None


def test_benchmark_modules_form_layers_around_one_leaf():
    """No import cycle in benchmarks/ (module-level and function-local imports), no module
    takes another's private names, and the shared helpers live in common.py, which imports
    no other benchmark module and whose definitions no other module repeats."""
    files = sorted(BENCHMARKS.glob("*.py"))
    sources = {_module_name(f): f.read_text() for f in files}
    edges, private = import_graph(sources)
    assert find_cycle(edges) is None, f"import cycle: {' -> '.join(find_cycle(edges))}"
    assert private == [], f"private names imported across modules: {private}"
    assert edges["benchmarks.common"] == set()
    shared = {n.name for n in ast.parse(sources["benchmarks.common"]).body
              if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    for module, source in sources.items():
        if module in ("benchmarks.common", "benchmarks.torch_bench"):
            continue  # torch_bench runs as a script under torch's Python, without the package
        defined = {n.name.lstrip("_") for n in ast.walk(ast.parse(source))
                   if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
        assert not defined & shared, f"{module} repeats common.py's {defined & shared}"


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


def test_a_machine_without_a_measured_peak_renders_and_scores(results):
    """No AVX2+FMA or AVX-512 (or no clock): the peak is None, the shares read n/a."""
    import copy

    from benchmarks import run
    no_peak = copy.deepcopy(results)
    no_peak["peaks"]["fma_gflops"] = None
    no_peak["peaks"]["fma_source"] = "n/a: the CPU has neither AVX-512 nor AVX2+FMA"
    table = summary.render_table(no_peak)
    assert "FP32 FMA peak n/a: the CPU has neither AVX-512 nor AVX2+FMA;" in table
    assert "| n/a |" in table
    scored = run.targets(no_peak)["folded fp32 batch 32, fraction of FMA peak"]
    assert scored["value"] is None and scored["met"] is None
