"""Training recipes as data, and the optimizer, weight decay and compile settings they give."""

from __future__ import annotations

import dataclasses
from typing import Dict, List, Optional, Tuple


@dataclasses.dataclass(frozen=True)
class Recipe:
    """A training recipe: optimizer, learning-rate schedule and regularisation.

    Attributes:
        name: Registry key, e.g. "paper-cifar".
        description: One line for `--help`.
        optimizer: "sgd" or "adam".
        learning_rate: Peak learning rate at `batch_size`; another batch size
            scales it linearly (Goyal et al. 2017).
        batch_size: Default global batch size.
        epochs: Default number of epochs.
        momentum: SGD momentum.
        weight_decay: L2 penalty on conv and dense kernels (not on
            BatchNormalization or biases: `weight_decay_variables`), with the
            gradient `weight_decay * w` of Caffe's and torch's `weight_decay`.
        schedule: "step" (multiply by `decay_factor` at each milestone),
            "cosine" (to zero at the end) or "constant".
        milestones: Fractions of training at which a "step" schedule decays.
        decay_factor: Multiplier at each milestone.
        label_smoothing: Of the cross-entropy loss.
        augment: Augment the training images: the paper's pad-crop-flip for
            CIFAR and digits, random-resized crop + flip for photo folders.
        warmup_epochs: Linear warmup from `WARMUP_START` x the peak rate to
            the peak over this many epochs, step by step ("cosine" only).
        ema_decay: Exponential moving average of the weights (0: none), given
            as torchvision's `--model-ema-decay`: `ema_momentum` turns it into
            a per-step momentum. The average is what is evaluated and saved.
        auto_augment: None, "randaugment" or "trivialaugment" (photos only).
        random_erasing: Probability of erasing a random rectangle (photos only).
        mixup: Alpha of mixup's Beta(alpha, alpha) (0: off).
        cutmix: Alpha of cutmix's Beta(alpha, alpha) (0: off).
    """

    name: str
    description: str
    optimizer: str
    learning_rate: float
    batch_size: int
    epochs: int
    momentum: float = 0.9
    weight_decay: float = 0.0
    schedule: str = "step"
    milestones: Tuple[float, ...] = (0.5, 0.75)
    decay_factor: float = 0.1
    label_smoothing: float = 0.0
    augment: bool = True
    warmup_epochs: float = 0.0
    ema_decay: float = 0.0
    auto_augment: Optional[str] = None
    random_erasing: float = 0.0
    mixup: float = 0.0
    cutmix: float = 0.0

    @property
    def one_hot_labels(self) -> bool:
        """Whether the labels are one-hot: mixup and cutmix mix them, and Keras'
        sparse cross-entropy has no label smoothing."""
        return bool(self.mixup or self.cutmix or self.label_smoothing)


RECIPES: Dict[str, Recipe] = {r.name: r for r in (
    # He et al. 2015, section 4.2: 0.1 / 0.01 / 0.001 at 32k / 48k of 64k iterations,
    # i.e. 50% and 75% of training; 164 epochs of 50k images at batch 128 = 64k iterations.
    Recipe("paper-cifar", "the paper's CIFAR schedule: SGD 0.9, wd 1e-4, lr 0.1 /10 at 50% and "
           "75%, batch 128", optimizer="sgd", learning_rate=0.1, batch_size=128, epochs=164,
           momentum=0.9, weight_decay=1e-4, schedule="step"),
    # The fine-tuning settings of the blog post this project grew from (SGD lr 0.001,
    # momentum 0.9, batch 64, 10 epochs: an ImageNet ResNet50 reaches 83.99% on CIFAR-10),
    # with a cosine decay to zero.
    Recipe("finetune", "for pretrained --weights: SGD 0.9, lr 0.001 cosine, batch 64, no wd",
           optimizer="sgd", learning_rate=0.001, batch_size=64, epochs=10, momentum=0.9,
           weight_decay=0.0, schedule="cosine"),
    Recipe("adam", "a quick baseline: Adam lr 1e-3 cosine, batch 128", optimizer="adam",
           learning_rate=1e-3, batch_size=128, epochs=30, weight_decay=0.0, schedule="cosine"),
    # He et al. 2015, section 3.4 (and torchvision's original recipe): batch 256, lr 0.1,
    # /10 every 30 of 90 epochs, SGD 0.9, weight decay 1e-4.
    Recipe("imagenet-paper", "the paper's ImageNet schedule: SGD 0.9, wd 1e-4, lr 0.1 x "
           "batch/256, /10 at epochs 30 and 60 of 90", optimizer="sgd", learning_rate=0.1,
           batch_size=256, epochs=90, momentum=0.9, weight_decay=1e-4, schedule="step",
           milestones=(30 / 90, 60 / 90)),
    # torchvision's "new training recipe" (references/classification, ResNet50 IMAGENET1K_V2:
    # 8 GPUs x 128, lr 0.5 at batch 1024, i.e. 0.0625 at 128). Its 176 px training crop and
    # 232 -> 224 evaluation are --image-size choices, not recipe fields.
    Recipe("imagenet-modern", "torchvision's new recipe: SGD 0.9, lr 0.5 x batch/1024, 5 "
           "warmup epochs then cosine, 600 epochs, wd 2e-5 (not BN/bias), label smoothing "
           "0.1, mixup 0.2, cutmix 1.0, TrivialAugment, random erasing 0.1, EMA",
           optimizer="sgd", learning_rate=0.5 * 128 / 1024, batch_size=128, epochs=600,
           momentum=0.9, weight_decay=2e-5, schedule="cosine", label_smoothing=0.1,
           warmup_epochs=5, ema_decay=0.99998, auto_augment="trivialaugment",
           random_erasing=0.1, mixup=0.2, cutmix=1.0),
)}

# A warmup starts at this fraction of the peak rate (torchvision's --lr-warmup-decay 0.01),
# so that the first step already moves the weights.
WARMUP_START = 0.01
# torchvision updates its EMA every 32 steps with the decay 1 - (1 - d) * batch * 32 / epochs
# (pycls' adjustment, which leaves out the data set size, i.e. assumes ImageNet's). Per step
# that is 1 - (1 - d) * batch / epochs = 1 - (1 - d) * IMAGENET_TRAIN_IMAGES / total_steps on
# ImageNet; `ema_momentum` uses the last form on any data, so the average spans the same share
# of the run (1/25.6 of it for d = 0.99998) on a photo collection as on ImageNet.
IMAGENET_TRAIN_IMAGES = 1_281_167


def get_recipe(name: str) -> Recipe:
    """A recipe by name; ValueError listing the known ones otherwise."""
    if name not in RECIPES:
        raise ValueError(f"`recipe` must be one of {', '.join(RECIPES)}. Received: {name!r}")
    return RECIPES[name]


def weight_decay_variables(model) -> list:
    """The variables weight decay applies to: every conv and dense kernel.

    BatchNormalization's gamma and beta and every bias are left out
    (torchvision's `norm_weight_decay=0` and timm's `no_weight_decay`); layers
    of nested models count.
    """
    import keras

    kernels = []
    stack = list(model.layers)
    while stack:
        layer = stack.pop()
        stack.extend(getattr(layer, "layers", []))  # nested models
        if isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense)):
            kernels.append(layer.kernel)
    return kernels


def apply_weight_decay(model, weight_decay: float) -> None:
    """Put an L2 penalty on each of `weight_decay_variables(model)`.

    Keras' L2(l) adds l * sum(w^2), whose gradient is 2 l w: l = wd / 2 gives
    the `weight_decay` of the paper's Caffe/torch SGD. (Keras' own SGD
    `weight_decay` is decoupled, w -= lr * wd * w outside the momentum, which
    at momentum 0.9 decays about 10x less than what the recipes were tuned with.)
    """
    import keras

    if not weight_decay:
        return
    penalty = keras.regularizers.L2(weight_decay / 2)
    for kernel in weight_decay_variables(model):
        kernel.regularizer = penalty


def ema_momentum(recipe: Recipe, total_steps: int) -> float:
    """The per-step momentum of the weights' moving average for a run of
    `total_steps` (see IMAGENET_TRAIN_IMAGES); 0 without EMA."""
    if not recipe.ema_decay:
        return 0.0
    alpha = (1.0 - recipe.ema_decay) * IMAGENET_TRAIN_IMAGES / max(total_steps, 1)
    return max(0.0, 1.0 - alpha)


def make_optimizer(recipe: Recipe, *, batch_size: int, total_steps: int,
                   steps_per_epoch: int = 1):
    """The recipe's optimizer with its learning-rate schedule over `total_steps`.

    The schedule advances every step; a warmup of `recipe.warmup_epochs` lasts
    that many times `steps_per_epoch` steps. With `recipe.ema_decay` the
    optimizer keeps a moving average of the weights (Keras' `use_ema`).
    """
    import keras

    lr = recipe.learning_rate * batch_size / recipe.batch_size
    total_steps = max(total_steps, 1)
    warmup = min(int(round(recipe.warmup_epochs * steps_per_epoch)), total_steps - 1)
    if warmup and recipe.schedule != "cosine":
        raise ValueError(f"recipe {recipe.name!r}: `warmup_epochs` goes with the cosine "
                         f"schedule only. Received: schedule={recipe.schedule!r}")
    if recipe.schedule == "step":
        boundaries: List[int] = []
        for f in recipe.milestones:
            at = int(f * total_steps + 1e-9)  # 1e-9: 30/90 of 90 epochs is epoch 30, not 29.99
            boundaries.append(max(at, boundaries[-1] + 1 if boundaries else 1))
        values = [lr * recipe.decay_factor ** i for i in range(len(boundaries) + 1)]
        schedule = keras.optimizers.schedules.PiecewiseConstantDecay(boundaries, values)
    elif recipe.schedule == "cosine" and warmup:
        # Keras' CosineDecay with a warmup is one serializable schedule: linear from
        # WARMUP_START * lr to lr over `warmup` steps, then cosine to 0 at `total_steps`.
        schedule = keras.optimizers.schedules.CosineDecay(
            WARMUP_START * lr, decay_steps=total_steps - warmup, warmup_target=lr,
            warmup_steps=warmup)
    elif recipe.schedule == "cosine":
        schedule = keras.optimizers.schedules.CosineDecay(lr, decay_steps=total_steps)
    else:
        schedule = lr
    ema = dict(use_ema=True, ema_momentum=ema_momentum(recipe, total_steps)) \
        if recipe.ema_decay else {}
    if recipe.optimizer == "sgd":
        return keras.optimizers.SGD(learning_rate=schedule, momentum=recipe.momentum, **ema)
    return keras.optimizers.Adam(learning_rate=schedule, **ema)


def uses_ema(optimizer) -> bool:
    """Whether `optimizer` (or the one a LossScaleOptimizer wraps) averages the weights."""
    return bool(getattr(getattr(optimizer, "inner_optimizer", optimizer), "use_ema", False))


def compile_model(model, optimizer, recipe: Recipe, jit) -> None:
    """Compile `model` with `optimizer`, the recipe's loss (label smoothing) and the
    accuracy and top-5 accuracy metrics; `jit` True, False or None (Keras' "auto").

    With `recipe.one_hot_labels` the loss and metrics are the categorical ones;
    otherwise the sparse ones (integer labels)."""
    import keras

    k = min(5, model.output_shape[-1])
    if recipe.one_hot_labels:
        loss = keras.losses.CategoricalCrossentropy(label_smoothing=recipe.label_smoothing)
        metrics = [keras.metrics.CategoricalAccuracy(name="accuracy"),
                   keras.metrics.TopKCategoricalAccuracy(k=k, name="top5_accuracy")]
    else:
        loss = "sparse_categorical_crossentropy"
        metrics = [keras.metrics.SparseCategoricalAccuracy(name="accuracy"),
                   keras.metrics.SparseTopKCategoricalAccuracy(k=k, name="top5_accuracy")]
    model.compile(optimizer=optimizer, loss=loss, metrics=metrics,
                  jit_compile="auto" if jit is None else bool(jit))
