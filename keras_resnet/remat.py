"""Rematerialisation (gradient checkpointing) of a built model's residual stages.

`build_resnet(..., remat="block" | "stage" | True)` ends in `rematerialise` (and
`keras_resnet.training.train` applies it to a resumed checkpoint): in
training, the model's forward pass runs its functional graph cut into segments
at every residual block's output ("block", True) or every stage's output
("stage"), each segment under `tf.recompute_grad` (TensorFlow) or
`jax.checkpoint` (JAX), so the backward pass keeps only the segments'
boundaries and recomputes what lies between them (timm's
`set_grad_checkpointing`); the stem is one more segment. The head runs as
usual; inference runs the model's own call.

Backends: TensorFlow and JAX. Not PyTorch (`check_remat` refuses it with a
ValueError naming the backend): not implemented. `torch.utils.checkpoint`
re-runs the segment's eager forward pass during the backward pass, where Keras'
BatchNormalization would update its moving statistics in place a second time
and DropPath would draw new masks; exactness there would need the state put
back around the recomputation (as `_exact` does for TensorFlow) and tests
under Keras' torch trainer, which this module does not have.

Why not `keras.RematScope` (Keras 3.15): it rematerialises each *layer*
separately, which keeps every layer's input (the previous layer's output), so
it can save little on a ResNet; and it does not train: on TensorFlow,
`tf.custom_gradient` refuses the `training=` keyword Keras passes each layer
inside a `tf.function` (every `model.fit` fails), on JAX `jax.checkpoint`
traces that flag and the model does not build for `fit`, and on torch the
recomputed BatchNormalization updates its moving statistics a second time.

The recomputation here is exact. On TensorFlow, before recomputing a segment,
its non-trainable state (BatchNormalization's moving statistics, random
generators' seeds: DropPath's masks) is put back as the forward pass found it,
and afterwards as the forward pass left it. On JAX each segment is a pure
function, `segment.stateless_call(trainable_values, state_values, x,
training=True)` under `jax.checkpoint`, its variables' values passed in as
arguments (so no tracer leaks out of it and the recomputation re-runs it from
the same state: the same masks); the state it returns is written back with
`assign`, which inside Keras' JAX trainer (`model.stateless_call`) is recorded
in the surrounding `StatelessScope`, so `fit` sees one update of the moving
statistics, as the plain model's.

Nothing of this is saved: layer names, weights, config and `.keras` files are
those of the plain model, and a loaded file is not rematerialised.
"""

from __future__ import annotations

import re

import keras

REMAT = (None, False, True, "block", "stage")


BACKENDS = ("tensorflow", "jax")


def check_remat(remat) -> None:
    """ValueError naming `remat` unless it is one of `REMAT` (on TensorFlow or JAX when
    set)."""
    if not any(remat is choice or (isinstance(choice, str) and remat == choice)
               for choice in REMAT):
        raise ValueError(f"`remat` must be one of {list(REMAT)}. Received: remat={remat!r}")
    if remat and keras.backend.backend() not in BACKENDS:
        raise ValueError(
            "`remat` needs the TensorFlow or the JAX backend (its segments run under "
            "tf.recompute_grad or jax.checkpoint; torch's eager autograd has no recomputation "
            "that restores BatchNormalization's and DropPath's state). Received: "
            f"remat={remat!r} on the {keras.backend.backend()!r} backend")


def _boundaries(model: keras.Model, remat) -> list:
    """The tensors between segments: the stem's output (the input of the first block),
    then each block's (or each stage's last block's) output. Found by the layer names'
    grammar (`conv{stage}_block{i}_out`), so that a loaded model has them too."""
    blocks = [layer for layer in model.layers if re.fullmatch(r".+_block\d+_out", layer.name)]
    if not blocks:
        raise ValueError(f"`remat` finds no residual blocks (`*_block<i>_out` layers) in "
                         f"{model.name!r}")
    first = blocks[0].name.rsplit("_out", 1)[0] + "_"
    stem_output = next(layer for layer in model.layers if layer.name.startswith(first)).input
    if remat == "stage":  # the last block of each stage
        blocks = [layer for layer, after in zip(blocks, blocks[1:] + [None])
                  if after is None or _stage(after) != _stage(layer)]
    return [stem_output] + [layer.output for layer in blocks]


def _stage(layer) -> str:
    return layer.name.rsplit("_block", 1)[0]


def _exact(segment):
    """`segment` for `tf.recompute_grad`: its second call (the recomputation) starts
    from the state the first found and leaves the state the first left."""
    import tensorflow as tf

    state = segment.non_trainable_variables
    before = []

    def run(x):
        if not before:  # the forward pass
            before.append([tf.identity(v.value) for v in state])
            return segment(x, training=True)
        after = [tf.identity(v.value) for v in state]
        for v, value in zip(state, before[0]):
            v.assign(value)
        y = segment(x, training=True)
        for v, value in zip(state, after):
            v.assign(value)
        return y
    return run


def _pure(segment):
    """`segment` for JAX: a pure function of the segment's variables' values and its
    input under `jax.checkpoint`, so the recomputation re-runs it from the same values
    (the same BatchNormalization statistics and seeds: DropPath's masks); the state it
    leaves is written back by `assign`, which inside `stateless_call` (Keras' JAX
    trainer) is recorded in the surrounding `StatelessScope`."""
    import jax
    from keras.src.backend import AutocastScope

    trainable, state = segment.trainable_variables, segment.non_trainable_variables

    @jax.checkpoint
    def pure(trainable_values, state_values, x):
        return segment.stateless_call(trainable_values, state_values, x, training=True)

    def run(x):
        with AutocastScope(None):  # the variables' own values, not a mixed policy's casts
            values = ([v.value for v in trainable], [v.value for v in state])
        y, after = pure(*values, x)
        for v, value in zip(state, after):
            v.assign(value)
        return y
    return run


def rematerialise(model: keras.Model, remat) -> keras.Model:
    """Make `model`'s training forward pass recompute its residual segments in the
    backward pass (see the module's documentation); returns `model`."""
    if not remat:
        return model
    check_remat(remat)
    if keras.backend.backend() == "jax":
        checkpoint = _pure
    else:
        import tensorflow as tf

        def checkpoint(segment):
            return tf.recompute_grad(_exact(segment))

    cuts = [model.inputs[0], *_boundaries(model, remat)]
    segments = [keras.Model(a, b) for a, b in zip(cuts, cuts[1:])]  # the stem's first
    # A headless model without pooling ends at the last boundary: no head.
    head = (keras.Model(cuts[-1], model.outputs[0]) if model.outputs[0] is not cuts[-1]
            else (lambda x, training: x))
    plain_call = model.call

    def call(inputs, training=None, mask=None, **kwargs):
        if not training or keras.utils.is_keras_tensor(inputs):
            return plain_call(inputs, training=training, mask=mask, **kwargs)
        x = inputs
        for segment in segments:
            x = checkpoint(segment)(x)
        return head(x, training=True)

    # An instance attribute, not a subclass: the model saves and loads as the plain one.
    object.__setattr__(model, "call", call)
    return model


__all__ = ["REMAT", "check_remat", "rematerialise"]
