# %% [markdown]
# # 4. Build your own ResNet
#
# Every model in the zoo is `stem -> stack -> ... -> stack -> head`, and those four functions are
# public (`keras_resnet.stem`, `stack`, `block`, `head`: plain `x -> x` functions, as in
# keras.applications). This notebook builds a ResNet26 two ways, a wide ResNet and a net that mixes
# block types, and trains one briefly. Regenerate with
# `.venv/bin/python notebooks/build.py 04_build_your_own`.

# %%
import os
import tempfile

import keras
import numpy as np
from IPython.display import Image, display
from sklearn.datasets import load_digits

import keras_resnet
from keras_resnet import block, count_macs, head, plotting, stack, stem
from keras_resnet.report import format_table

keras.utils.set_random_seed(0)
out = tempfile.mkdtemp()


def describe(model):
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    return (model.name, f"{model.count_params():,}", f"{trainable:,}",
            f"{count_macs(model) / 1e9:.3f}")

# %% [markdown]
# ## ResNet26 from a stage list
# `keras_resnet.ResNet` takes any list of blocks per stage: two bottleneck blocks in each of the
# four stages give a ResNet26 (3 x 8 + 2 weighted layers).

# %% tags=["stable"]
resnet26 = keras_resnet.ResNet((2, 2, 2, 2), block_type="bottleneck", name="resnet26")
print(format_table(("model", "params", "trainable", "GMACs"), [describe(resnet26)]))

# %% [markdown]
# ## The same ResNet26 by hand
# `stem`, four `stack`s and `head` give exactly the same layers, names and weights.

# %% tags=["stable"]
inputs = keras.Input((224, 224, 3), name="input")
x = stem(inputs, 64, kind="imagenet", variant="v1")
for stage, (width, stride) in enumerate(zip((64, 128, 256, 512), (1, 2, 2, 2)), start=2):
    x = stack(x, width, 2, stride, block_type="bottleneck", variant="v1", name=f"conv{stage}")
outputs = head(x, num_classes=1000, variant="v1")
by_hand = keras.Model(inputs, outputs, name="resnet26_by_hand")

print(format_table(("model", "params", "trainable", "GMACs"),
                   [describe(resnet26), describe(by_hand)]))
print("same layer names:", [l.name for l in by_hand.layers] == [l.name for l in resnet26.layers])
print("same weight shapes:",
      [w.shape for w in by_hand.weights] == [w.shape for w in resnet26.weights])

# %%
display(Image(plotting.plot_model(by_hand, os.path.join(out, "resnet26.png"))))

# %% [markdown]
# ## A wide ResNet for small images
# Zagoruyko & Komodakis' wide ResNets keep the CIFAR layout (3x3 stem, three stages) and multiply
# the widths. Here: depth 14, widen factor 4 (widths 64/128/256 instead of 16/32/64), with a
# 16-filter stem as in their paper, and the torchvision conventions (`variant="v1.5"`).

# %% tags=["stable"]
def wide_resnet(input_shape, num_classes, blocks=2, widen=4, name="wide_resnet"):
    inputs = keras.Input(input_shape, name="input")
    x = stem(inputs, 16, kind="cifar", variant="v1.5")
    for stage, (width, stride) in enumerate(zip((16, 32, 64), (1, 2, 2)), start=2):
        x = stack(x, width * widen, blocks, stride, block_type="basic", variant="v1.5",
                  shortcut="B", name=f"conv{stage}")
    return keras.Model(inputs, head(x, num_classes=num_classes, variant="v1.5"), name=name)


wide = wide_resnet((32, 32, 3), 10, name="wrn_14_4")
narrow = keras_resnet.ResNet20(variant="v1.5", shortcut="B")
print(format_table(("model", "params", "trainable", "GMACs"), [describe(narrow), describe(wide)]))

# %% [markdown]
# ## Mixing block types with `block`
# `block` is one residual block; nothing stops a net from using basic blocks early and bottlenecks
# late, or from changing the shortcut option per stage.

# %% tags=["stable"]
inputs = keras.Input((32, 32, 3), name="input")
x = stem(inputs, 32, kind="cifar", variant="v1.5")
x = block(x, 32, block_type="basic", variant="v1.5", shortcut="A", name="conv2_block1")
x = block(x, 64, stride=2, block_type="basic", variant="v1.5", shortcut="A", name="conv3_block1")
x = block(x, 32, stride=2, block_type="bottleneck", variant="v1.5", shortcut="B",
          name="conv4_block1")
x = block(x, 32, block_type="bottleneck", variant="v1.5", shortcut="B", name="conv4_block2")
mixed = keras.Model(inputs, head(x, num_classes=10, variant="v1.5"), name="mixed")
print(format_table(("model", "params", "trainable", "GMACs"), [describe(mixed)]))
print(mixed.output_shape)

# %%
display(Image(plotting.plot_model(mixed, os.path.join(out, "mixed.png"))))

# %% [markdown]
# ## Does it train?
# A small wide ResNet on scikit-learn's 8x8 digits (1,797 images), 5 epochs on a CPU.

# %%
digits = load_digits()
images = (digits.images / 16.0).astype("float32")[..., None]
order = np.random.default_rng(0).permutation(len(images))
x_train, y_train = images[order[:1400]], digits.target[order[:1400]]
x_test, y_test = images[order[1400:]], digits.target[order[1400:]]

model = wide_resnet((8, 8, 1), 10, blocks=1, widen=2, name="wrn_8_2")
model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy",
              metrics=["accuracy"])
history = model.fit(x_train, y_train, epochs=5, batch_size=64, verbose=0,
                    validation_data=(x_test, y_test), validation_batch_size=256)
for epoch, (loss, acc) in enumerate(zip(history.history["loss"],
                                        history.history["val_accuracy"]), start=1):
    print(f"epoch {epoch}: train loss {loss:.3f}, test accuracy {acc:.3f}")
