"""Shared fixtures (a clean Keras session per test, fixed seeds, data format reset), the
helpers every test uses (closeness, a training step, op types, the models per kind, ...),
and how scripts/test.sh runs the suite: `--phase` and the xdist scheduler."""

import ast
import functools
import os
import warnings
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _clean_session():
    keras.utils.set_random_seed(0)
    yield
    keras.config.set_image_data_format("channels_last")
    keras.backend.clear_session()


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def randomize_bn_statistics(model, rng):
    """Give every BatchNormalization non-trivial gamma, beta, mean and variance,
    so parity tests exercise the inference-mode BN path for real."""
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            gamma, beta, mean, var = layer.get_weights()
            layer.set_weights([
                rng.uniform(0.5, 1.5, gamma.shape).astype("float32"),
                rng.normal(0, 0.1, beta.shape).astype("float32"),
                rng.normal(0, 0.1, mean.shape).astype("float32"),
                rng.uniform(0.5, 2.0, var.shape).astype("float32"),
            ])


def assert_close(actual, expected, tol=1e-4, what="output", min_scale=1.0):
    """AssertionError unless the shapes agree and max |actual - expected| is at most
    `tol` times the scale of `expected`: its largest magnitude, at least `min_scale`.
    Arrays or any backend's tensors."""
    actual = np.asarray(keras.ops.convert_to_numpy(actual), "float64")
    expected = np.asarray(keras.ops.convert_to_numpy(expected), "float64")
    if actual.shape != expected.shape:
        raise AssertionError(f"{what}: shape {actual.shape}, expected {expected.shape}")
    scale = max(min_scale, float(np.abs(expected).max(initial=0.0)))
    error = float(np.abs(actual - expected).max(initial=0.0))
    if not error <= tol * scale:  # also fails on NaN
        raise AssertionError(f"{what}: max difference {error:.3g} exceeds {tol:g} of the "
                             f"scale {scale:.3g}")


def weighted_sum(upstream, outputs):
    """sum(outputs * upstream): a loss whose gradient w.r.t. the outputs is `upstream`."""
    return keras.ops.sum(keras.ops.cast(outputs, "float32") * upstream)


def training_step(model, x, y, loss=None, input_gradient=False):
    """One forward and backward pass in training mode, on TensorFlow:
    (outputs, gradients of `loss(y, outputs)`), numpy. The gradients are w.r.t. the
    trainable variables, preceded by the one w.r.t. `x` with `input_gradient`.
    `loss` defaults to sparse categorical crossentropy from logits."""
    import tensorflow as tf
    loss = loss or keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    x = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        outputs = model(x, training=True)
        value = loss(y, outputs)
    sources = ([x] if input_gradient else []) + list(model.trainable_variables)
    return outputs.numpy(), [g.numpy() for g in tape.gradient(value, sources)]


def op_types(layer, x, training):
    """The TensorFlow op types in the traced graph of `layer(x, training=training)`."""
    import tensorflow as tf
    fn = tf.function(lambda t: layer(t, training=training))
    return {op.type for op in fn.get_concrete_function(tf.constant(x)).graph.get_operations()}


def is_large_model(name: str) -> bool:
    """Models whose per-model tests run with the slow tests only: all but the
    smallest of each kind (ResNet18, ResNet20). The fast loop keeps those two,
    and the explicit checks of bottleneck, ResNeXt, ResNet-D and V2 models
    (parity with keras.applications, the family tests)."""
    from keras_resnet.registry import REGISTRY
    info = REGISTRY.get(str(name).lower())
    return info is not None and (info.params > 12_000_000
                                 or sum(info.spec.blocks_per_stage) > 12)


def model_features(name: str) -> frozenset:
    """What of a registered model's code its per-model tests exercise, as (feature, value)
    pairs: block types with the convention, stem, stem pool, average-pool downsampling,
    grouping, channel attention, anti-aliasing, per-block widths, normalisation with the
    convention, convolution kind. Depth, width and group count are numbers in the same code;
    SENet-154's reductions are checked against timm's logits (test_timm_family.py)."""
    from keras_resnet.registry import model_info
    info = model_info(name)
    spec = info.spec
    return frozenset({
        ("blocks", tuple(sorted(set(spec.block_types))), info.variant),
        ("stem", spec.stem.name), ("stem_pool", spec.stem_pool), ("avg_down", spec.avg_down),
        ("grouped", spec.groups > 1), ("attention", spec.attention),
        ("anti_alias", spec.anti_alias), ("pruned", spec.block_widths is not None),
        ("norm", spec.norm, info.variant), ("conv", spec.conv)})


def smallest_of_each_kind() -> list:
    """For each feature value (`model_features`), the registered model with the fewest
    parameters that has it: every code path once, in registry order."""
    from keras_resnet.registry import list_models, model_info
    smallest = {}
    for name in sorted(list_models(), key=lambda n: model_info(n).params):
        for feature in model_features(name):
            smallest.setdefault(feature, name)
    return [name for name in list_models() if name in smallest.values()]


PHASES = {
    "all": "every selected test (the default)",
    "parallel": "all but the whole_machine tests: scripts/test.sh runs them on both cores "
                "with pytest-xdist",
    "serial": "only the whole_machine tests: scripts/test.sh runs them afterwards, in one "
              "process",
}


def pytest_addoption(parser):
    parser.addoption("--phase", choices=sorted(PHASES), default="all",
                     help="; ".join(f"{name}: {what}" for name, what in PHASES.items()))


@functools.lru_cache(maxsize=None)
def _shared_fixture_users(path: str) -> dict:
    """{test function: its module- or session-scoped fixtures} for the fixtures that the test
    module at `path` defines, read from its source."""
    tree = ast.parse(Path(path).read_text())
    shared = {node.name for node in tree.body if isinstance(node, ast.FunctionDef)
              for d in node.decorator_list
              if isinstance(d, ast.Call) and getattr(d.func, "attr", None) == "fixture"
              and any(k.arg == "scope" and getattr(k.value, "value", None) != "function"
                      for k in d.keywords)}
    return {node.name: sorted(shared & {a.arg for a in node.args.args})
            for node in tree.body if isinstance(node, ast.FunctionDef)
            and node.name.startswith("test") and shared & {a.arg for a in node.args.args}}


@pytest.hookimpl(optionalhook=True)  # a pytest-xdist hook
def pytest_xdist_make_scheduler(config, log):
    """`--dist loadgroup`, and the tests that share a costly module-scoped fixture (a docs
    build, a trained model) as one unit: one worker builds it once. The controller collects
    nothing, so the grouping reads the test modules' source (xdist_group marks added at
    collection are lost with pytest 9.2: pytest-dev/pytest-xdist#1386)."""
    if config.getoption("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadGroupScheduling

    class SharedFixtureScheduling(LoadGroupScheduling):
        def _split_scope(self, nodeid):
            path, _, rest = nodeid.partition("::")
            module = config.rootpath / path
            fixtures = module.suffix == ".py" and module.is_file() and _shared_fixture_users(
                str(module)).get(rest.split("[")[0].split("@")[0])
            if fixtures:
                return f"{path}::{'+'.join(fixtures)}"
            return super()._split_scope(nodeid)

    return SharedFixtureScheduling(config, log)


def pytest_collection_modifyitems(config, items):
    # One rule for every test parametrized over the registry ("name" or "arch").
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        if any(is_large_model(params[key]) for key in ("name", "arch") if key in params):
            item.add_marker(pytest.mark.slow)

    phase = config.getoption("phase")
    if phase != "all":
        keep = phase == "serial"
        selected = [i for i in items if (i.get_closest_marker("whole_machine") is not None)
                    == keep]
        if len(selected) < len(items):
            config.hook.pytest_deselected(items=[i for i in items if i not in selected])
            items[:] = selected


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released): connections are refused."""
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


HUB_COMMIT = "0123456789abcdef0123456789abcdef01234567"


def put_in_hub_cache(root, repo: str, files: dict):
    """Lay `files` (name -> bytes) out as huggingface_hub's cache does for `repo` under
    `root`: refs/main names a snapshot (no trailing newline) holding the files.
    Returns the snapshot directory."""
    folder = root / ("models--" + repo.replace("/", "--"))
    (folder / "refs").mkdir(parents=True, exist_ok=True)
    (folder / "refs" / "main").write_text(HUB_COMMIT)
    snapshot = folder / "snapshots" / HUB_COMMIT
    snapshot.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (snapshot / name).write_bytes(data)
    return snapshot


def tflite_run(path, x):
    """Run a .tflite file on `x` (any batch); (outputs, the interpreter)."""
    import tensorflow as tf
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tf.lite.Interpreter's deprecation notice
        interpreter = tf.lite.Interpreter(model_path=str(path))
    inp = interpreter.get_input_details()[0]
    interpreter.resize_tensor_input(inp["index"], x.shape)
    interpreter.allocate_tensors()
    interpreter.set_tensor(inp["index"], x)
    interpreter.invoke()
    return interpreter.get_tensor(interpreter.get_output_details()[0]["index"]), interpreter
