"""Run as a script in a Python where keras_resnet cannot be imported: loads models
with Keras alone and writes how close their outputs are to the expected ones.

    python plain_keras_child.py MANIFEST.json RESULTS.json

MANIFEST is a list of {"name", "kind", "path", "x", "expected"}: kind "file" is a
`.keras` file for `keras.saving.load_model`; kind "json" is `model.to_json()` for
`keras.models.model_from_json`, whose variables `fill` then sets to the values the
parent gave the original. RESULTS maps each name to {"max_abs_diff", "classes"}
(the module-qualified classes of its layers) or {"error"}.
"""

import json
import math
import sys

import numpy as np


def fill(model) -> None:
    """Set every variable of `model` to deterministic values that depend only on its
    position and shape: kernels small enough that 200 layers keep activations near 1,
    BatchNormalization statistics and scales away from their initial 0 and 1 (so a
    file that lost them would give other outputs)."""
    for i, variable in enumerate(model.weights):
        shape = tuple(variable.shape)
        t = np.cos(np.arange(math.prod(shape), dtype="float64") * 0.7548776662 + i)
        name = variable.name
        if name in ("gamma", "moving_variance"):
            values = 1.0 + 0.25 * t
        elif name in ("beta", "moving_mean", "bias"):
            values = 0.1 * t
        else:
            values = t / math.sqrt(math.prod(shape[:-1]) or 1)
        variable.assign(values.reshape(shape).astype(variable.dtype))


def main(manifest_path: str, results_path: str) -> None:
    try:
        import keras_resnet  # noqa: F401
    except ImportError:
        pass
    else:
        raise SystemExit("keras_resnet is importable in the child")
    import keras

    results = {}
    with open(manifest_path) as f:
        manifest = json.load(f)
    for entry in manifest:
        try:
            if entry["kind"] == "file":
                model = keras.saving.load_model(entry["path"])
            else:
                with open(entry["path"]) as f:
                    model = keras.models.model_from_json(f.read())
                fill(model)
            y = np.asarray(model(np.load(entry["x"]), training=False))
            results[entry["name"]] = {
                "max_abs_diff": float(np.abs(y - np.load(entry["expected"])).max()),
                "classes": sorted({f"{type(layer).__module__}.{type(layer).__name__}"
                                   for layer in model.layers})}
        except Exception as e:  # reported per model, so one failure shows them all
            results[entry["name"]] = {"error": f"{type(e).__name__}: {e}"[:3000]}
        keras.backend.clear_session()
    if "keras_resnet" in {m.split(".")[0] for m in sys.modules if sys.modules[m] is not None}:
        raise SystemExit("keras_resnet was imported")
    with open(results_path, "w") as f:
        json.dump(results, f)


if __name__ == "__main__":
    sys.modules["keras_resnet"] = None  # it is pip-installed: make `import keras_resnet` fail
    main(*sys.argv[1:])
