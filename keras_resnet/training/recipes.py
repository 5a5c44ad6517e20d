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
        weight_decay: L2 penalty on conv and dense kernels, with the gradient
            `weight_decay * w` of Caffe's and torch's `weight_decay`.
        schedule: "step" (multiply by `decay_factor` at each milestone),
            "cosine" (to zero at the end) or "constant".
        milestones: Fractions of training at which a "step" schedule decays.
        decay_factor: Multiplier at each milestone.
        label_smoothing: Of the cross-entropy loss.
        augment: Augment the training images: the paper's pad-crop-flip for
            CIFAR and digits, random-resized crop + flip for photo folders.
        warmup_epochs: Linear warmup from 0 to the peak rate over this many epochs.
        ema_decay: Exponential moving average of the weights with this decay
            (0: none); the average is what is evaluated and saved.
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
)}


def get_recipe(name: str) -> Recipe:
    """A recipe by name; ValueError listing the known ones otherwise."""
    if name not in RECIPES:
        raise ValueError(f"`recipe` must be one of {', '.join(RECIPES)}. Received: {name!r}")
    return RECIPES[name]


def apply_weight_decay(model, weight_decay: float) -> None:
    """Put an L2 penalty on every conv and dense kernel (not on BN or biases).

    Keras' L2(l) adds l * sum(w^2), whose gradient is 2 l w: l = wd / 2 gives
    the `weight_decay` of the paper's Caffe/torch SGD.
    """
    import keras

    if not weight_decay:
        return
    penalty = keras.regularizers.L2(weight_decay / 2)
    stack = list(model.layers)
    while stack:
        layer = stack.pop()
        stack.extend(getattr(layer, "layers", []))  # nested models
        if isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense)):
            layer.kernel.regularizer = penalty


def make_optimizer(recipe: Recipe, *, batch_size: int, total_steps: int):
    """The recipe's optimizer with its learning-rate schedule over `total_steps`."""
    import keras

    lr = recipe.learning_rate * batch_size / recipe.batch_size
    if recipe.schedule == "step":
        boundaries: List[int] = []
        for f in recipe.milestones:
            boundaries.append(max(int(f * total_steps), boundaries[-1] + 1 if boundaries else 1))
        values = [lr * recipe.decay_factor ** i for i in range(len(boundaries) + 1)]
        schedule = keras.optimizers.schedules.PiecewiseConstantDecay(boundaries, values)
    elif recipe.schedule == "cosine":
        schedule = keras.optimizers.schedules.CosineDecay(lr, decay_steps=max(total_steps, 1))
    else:
        schedule = lr
    if recipe.optimizer == "sgd":
        return keras.optimizers.SGD(learning_rate=schedule, momentum=recipe.momentum)
    return keras.optimizers.Adam(learning_rate=schedule)


def compile_model(model, optimizer, recipe: Recipe, jit) -> None:
    """Compile `model` with `optimizer`, the recipe's loss (label smoothing) and the
    accuracy and top-5 accuracy metrics; `jit` True, False or None (Keras' "auto").

    With mixup or cutmix the labels are one-hot (mixed), so the loss and metrics
    are the categorical ones; otherwise the sparse ones (integer labels)."""
    import keras

    k = min(5, model.output_shape[-1])
    if recipe.mixup or recipe.cutmix:
        loss = keras.losses.CategoricalCrossentropy(label_smoothing=recipe.label_smoothing)
        metrics = [keras.metrics.CategoricalAccuracy(name="accuracy"),
                   keras.metrics.TopKCategoricalAccuracy(k=k, name="top5_accuracy")]
    else:
        loss = keras.losses.SparseCategoricalCrossentropy(
            label_smoothing=recipe.label_smoothing) if recipe.label_smoothing else \
            "sparse_categorical_crossentropy"
        metrics = [keras.metrics.SparseCategoricalAccuracy(name="accuracy"),
                   keras.metrics.SparseTopKCategoricalAccuracy(k=k, name="top5_accuracy")]
    model.compile(optimizer=optimizer, loss=loss, metrics=metrics,
                  jit_compile="auto" if jit is None else bool(jit))
