"""keras_resnet: every ResNet, from one registry of architectures, in Keras 3.

The registry (`list_models`, `model_info`, `get_model`) needs no framework;
everything else is imported on first use (PEP 562), so `import keras_resnet`
and `keras-resnet list` start without loading TensorFlow.
"""

from keras_resnet.registry import ModelInfo, builder_names, get_model, list_models, model_info

__version__ = "0.1.0"

# Public name -> the module that defines it, imported when the name is first used.
_LAZY = {
    "backbone": "keras_resnet.feature_maps",
    "stage_names": "keras_resnet.feature_maps",
    "block": "keras_resnet.blocks",
    "head": "keras_resnet.blocks",
    "stack": "keras_resnet.blocks",
    "stem": "keras_resnet.blocks",
    "freeze": "keras_resnet.finetune",
    "fold_batchnorm": "keras_resnet.inference",
    "with_dtype_policy": "keras_resnet.inference",
    "with_keras_batchnorm": "keras_resnet.inference",
    "FusedBatchNormalization": "keras_resnet.layers",
    "count_macs": "keras_resnet.macs",
    "ResNet": "keras_resnet.models",
    **{builder: "keras_resnet.models" for builder in builder_names()},
    "list_pretrained": "keras_resnet.pretrained",
    "decode_predictions": "keras_resnet.preprocessing",
    "preprocess_input": "keras_resnet.preprocessing",
}

__all__ = ["ModelInfo", "get_model", "list_models", "model_info", *_LAZY]


def __getattr__(name):
    if name in _LAZY:
        import importlib
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value  # later look-ups skip this function
        return value
    raise AttributeError(f"module 'keras_resnet' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
