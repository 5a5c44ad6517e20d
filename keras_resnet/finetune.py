"""Fine-tuning controls: freezing a model up to a stage."""

from __future__ import annotations

import re
from typing import Dict

import keras

_STAGE_LAYER = re.compile(r"^(?:conv|pool)(\d+)_")


def _stage_layers_by_name(model: keras.Model) -> Dict[str, set]:
    """Stage -> its layers, read off the layer-name grammar (`conv{stage}_...`,
    `pool1_...`). Only for models loaded from a file, which lack the record the
    builder leaves (Keras does not save custom attributes)."""
    stages: Dict[str, set] = {}
    for layer in model.layers:
        match = _STAGE_LAYER.match(layer.name)
        if match:
            stages.setdefault(f"conv{match.group(1)}", set()).add(id(layer))
    return dict(sorted(stages.items(), key=lambda item: int(item[0][4:])))


def _stage_layers(model: keras.Model) -> Dict[str, set]:
    """Stage ("conv1" for the stem, "conv2", ...) -> ids of the layers it adds,
    from the stage outputs recorded by the builder where the model has them."""
    recorded = getattr(model, "stage_outputs", None)
    if not recorded:
        return _stage_layers_by_name(model)
    stages, seen = {}, set()
    for stage, output in recorded.items():
        # The layers between the model's inputs and this stage's output.
        upstream = {id(layer) for layer in keras.Model(model.inputs, output).layers}
        stages[stage] = upstream - seen
        seen |= upstream
    return stages


def freeze(model: keras.Model, up_to: str = "conv5") -> keras.Model:
    """Freeze every layer from the stem up to and including stage `up_to`,
    and unfreeze the stages after it and the head.

    Frozen BatchNormalization layers run in inference mode even when the model
    trains (Keras' convention), so their statistics stay those of the
    pretrained model. Re-`compile` the model after changing what is frozen.

    Args:
        model: A keras_resnet model: built by a keras_resnet builder (which
            records its stages), or loaded from a file (its layer names say
            which stage each layer belongs to).
        up_to: "conv1" (the stem) or a stage name, e.g. "conv3".

    Returns:
        The same model, for chaining.
    """
    stages = _stage_layers(model)
    allowed = list(stages)
    if up_to not in allowed:
        raise ValueError(f"`up_to` must name a stage of this model, one of {allowed}. "
                         f"Received: up_to={up_to!r}")
    frozen = set().union(*(stages[s] for s in allowed[:allowed.index(up_to) + 1]))
    staged = set().union(*stages.values())
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        if id(layer) in frozen:
            layer.trainable = False
        elif id(layer) in staged or layer.weights:  # later stages, the head, user layers
            layer.trainable = True
    return model
