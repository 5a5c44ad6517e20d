"""`remat=` on JAX against the plain model, run by tests/test_remat.py in a fresh process
with KERAS_BACKEND=jax (the backend is fixed when Keras is imported):

    KERAS_BACKEND=jax python tests/remat_jax_check.py

resnet20 at 32x32 with DropPath (the recomputation must draw the forward pass' masks):
the gradients of `stateless_call` under `jax.grad`, the state it returns, and the
variables after one `model.fit` step (BatchNormalization's moving statistics, seeds,
weights) equal the plain model's; `fit` goes on for two more steps; inference is the
plain call. Prints `OK ...` lines, and raises on the first difference.
"""

from __future__ import annotations

import sys

import jax
import keras
import numpy as np

import keras_resnet

SHAPE = (32, 32, 3)
SEGMENTS = {True: 1 + 9, "block": 1 + 9, "stage": 1 + 3}  # resnet20: 3 stages of 3 blocks


def _loss(model, x, y):
    def loss(trainable, state):
        logits, state = model.stateless_call(trainable, state, x, training=True)
        return keras.losses.sparse_categorical_crossentropy(y, logits).mean(), state
    return jax.jit(jax.value_and_grad(loss, has_aux=True))


def _values(variables):
    return [np.asarray(v.value, dtype="float64") for v in variables]


def main(remats) -> None:
    assert keras.backend.backend() == "jax", keras.backend.backend()
    rng = np.random.default_rng(0)
    x = rng.random((8, *SHAPE), dtype="float32")
    y = rng.integers(0, 10, 8)
    options = dict(input_shape=SHAPE, num_classes=10, drop_path_rate=0.2)
    plain = keras_resnet.get_model("resnet20", **options)
    for remat in remats:
        model = keras_resnet.get_model("resnet20", remat=remat, **options)
        assert "call" in vars(model)
        for mine, theirs in zip(model.variables, plain.variables):  # seeds' state too
            mine.assign(np.array(theirs.value))  # a copy: fit donates its state's buffers
        seeds = [v for v in model.non_trainable_variables if "seed_generator" in v.path]
        assert seeds, "no DropPath seeds: the masks are not checked"

        # Each segment (the stem, then each block or stage) is one jax.checkpoint.
        jaxpr = jax.make_jaxpr(lambda t, s: model.stateless_call(t, s, x, training=True))(
            [v.value for v in model.trainable_variables],
            [v.value for v in model.non_trainable_variables])
        found = sum(eqn.primitive.name.startswith(("checkpoint", "remat")) for eqn in jaxpr.eqns)
        assert found == SEGMENTS[remat], (remat, found)

        results = [_loss(m, x, y)([v.value for v in m.trainable_variables],
                                  [v.value for v in m.non_trainable_variables])
                   for m in (model, plain)]
        (loss, state), grads = results[0]
        (plain_loss, plain_state), plain_grads = results[1]
        np.testing.assert_allclose(loss, plain_loss, atol=1e-6)
        for v, mine, theirs in zip(model.trainable_variables, grads, plain_grads):
            np.testing.assert_allclose(mine, theirs, atol=1e-5, err_msg=f"gradient {v.path}")
        for v, mine, theirs in zip(model.non_trainable_variables, state, plain_state):
            np.testing.assert_allclose(np.asarray(mine, "float64"),
                                       np.asarray(theirs, "float64"), atol=1e-6,
                                       err_msg=f"stateless_call's state {v.path}")
        print(f"OK {remat}: {found} segments under jax.checkpoint; jax.grad of stateless_call "
              "equals the plain model's")

        if remat != remats[0]:
            continue  # one fit is enough
        before = _values(plain.non_trainable_variables)
        for m in (model, plain):
            m.compile(optimizer=keras.optimizers.SGD(0.1),
                      loss="sparse_categorical_crossentropy")
            m.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
        moved = [v.path for v, a, b in zip(plain.non_trainable_variables,
                                           _values(plain.non_trainable_variables), before)
                 if "moving" in v.path and not np.allclose(a, b)]
        assert moved, "fit did not update the moving statistics"
        for v, mine, theirs in zip(model.variables, _values(model.variables),
                                   _values(plain.variables)):
            np.testing.assert_allclose(mine, theirs, atol=1e-5, err_msg=f"after fit {v.path}")
        print(f"OK {remat}: one fit step leaves the plain model's variables "
              f"({len(moved)} moving statistics updated)")
        np.testing.assert_allclose(model.predict(x, verbose=0), plain.predict(x, verbose=0),
                                   atol=1e-5)
        history = model.fit(x, y, batch_size=4, epochs=1, verbose=0).history
        assert np.isfinite(history["loss"][0]), history
        print(f"OK {remat}: fit runs two more steps, loss {history['loss'][0]:.3f}")


if __name__ == "__main__":
    main(sys.argv[1:] or [True, "stage"])
