"""keras_resnet: every ResNet, from one spec table, in Keras 3."""

__version__ = "0.1.0"

from keras_resnet.backbone import backbone, stage_names
from keras_resnet.blocks import block, head, stack, stem
from keras_resnet.finetune import freeze
from keras_resnet.inference import fold_batchnorm, with_dtype_policy, with_keras_batchnorm
from keras_resnet.layers import FusedBatchNormalization
from keras_resnet.macs import count_macs
from keras_resnet.models import (ResNet, ResNet18, ResNet20, ResNet32, ResNet34, ResNet44,
                                 ResNet50, ResNet50D, ResNet50V2, ResNet56, ResNet101,
                                 ResNet101D, ResNet101V2, ResNet110, ResNet152, ResNet152V2,
                                 ResNet200, ResNeXt50_32x4d, ResNeXt101_32x8d, WideResNet50_2,
                                 WideResNet101_2)
from keras_resnet.preprocessing import decode_predictions, preprocess_input
from keras_resnet.registry import ModelInfo, get_model, list_models, model_info
