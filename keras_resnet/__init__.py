"""keras_resnet: every ResNet, from one registry of architectures, in Keras 3.

The registry (`list_models`, `model_info`) needs no framework;
everything else is imported on first use (PEP 562), so `import keras_resnet`
and `keras-resnet list` start without loading TensorFlow.
"""

import importlib
import importlib.abc
import importlib.util
import sys

from keras_resnet.registry import ModelInfo, builder_names, list_models, model_info

__version__ = "0.1.0"

# Public name -> the module that defines it, imported when the name is first used.
_LAZY = {
    "backbone": "keras_resnet.feature_maps",
    "stage_names": "keras_resnet.feature_maps",
    "block": "keras_resnet.blocks",
    "head": "keras_resnet.blocks",
    "stack": "keras_resnet.blocks",
    "stem": "keras_resnet.blocks",
    "export": "keras_resnet.deploy",
    "save_pretrained": "keras_resnet.sharing",
    "push_to_hub": "keras_resnet.sharing",
    "freeze": "keras_resnet.finetune",
    "fold_batchnorm": "keras_resnet.inference",
    "with_dtype_policy": "keras_resnet.inference",
    "with_fast_layers": "keras_resnet.inference",
    "with_stock_layers": "keras_resnet.inference",
    "with_plain_convs": "keras_resnet.inference",
    "FusedBatchNormalization": "keras_resnet.layers",
    "StdConv2D": "keras_resnet.layers",
    "EvoNormS0": "keras_resnet.layers",
    "count_macs": "keras_resnet.macs",
    "ResNet": "keras_resnet.models",
    "get_model": "keras_resnet.builders",
    **{builder: "keras_resnet.builders" for builder in builder_names()},
    "find_pretrained": "keras_resnet.pretrained",
    "list_pretrained": "keras_resnet.pretrained",
    "decode_predictions": "keras_resnet.imagenet_labels",
    "preprocess_input": "keras_resnet.preprocessing",
}

__all__ = ["ModelInfo", "list_models", "model_info", *_LAZY]


def __getattr__(name):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value  # later look-ups skip this function
        return value
    raise AttributeError(f"module 'keras_resnet' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))


class _AfterKerasLoads(importlib.abc.MetaPathFinder):
    """Imports `keras_resnet.layers` right after Keras is first imported.

    Files of models with a layer Keras lacks (the CIFAR nets' option-A
    `ZeroPadChannels`, `DropPath` with drop_path_rate > 0, `ReverseChannels`
    with "caffe" input normalisation) name `keras_resnet>...`, which Keras can
    load only once that module has registered them (every other layer saves as
    Keras' own and needs nothing). Importing it with the package would load
    TensorFlow on `import keras_resnet`; waiting for Keras keeps
    `import keras_resnet; keras.saving.load_model("resnet20.keras")` working
    without that.
    """

    _looking = False

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "keras" or self._looking:
            return None
        self._looking = True  # find Keras the normal way (TensorFlow also just probes)
        try:
            spec = importlib.util.find_spec("keras")
        finally:
            self._looking = False
        if spec is not None and spec.loader is not None:
            exec_module = spec.loader.exec_module

            def exec_then_register(module):
                exec_module(module)
                if self in sys.meta_path:
                    sys.meta_path.remove(self)
                _register_layers()

            spec.loader.exec_module = exec_then_register
        return spec


def _register_layers() -> None:
    try:
        importlib.import_module("keras_resnet.layers")
    except ImportError:
        # Another Keras series (keras_compat's check): `import keras` must still work;
        # the check's message comes when keras_resnet's Keras code is first used.
        pass


if "keras" in sys.modules:
    _register_layers()
elif not any(isinstance(f, _AfterKerasLoads) for f in sys.meta_path):
    sys.meta_path.insert(0, _AfterKerasLoads())
