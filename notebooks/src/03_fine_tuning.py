# %% [markdown]
# # 3. Fine-tuning a pretrained ResNet, offline
#
# The Chinese blog post this project grew from fine-tunes an ImageNet-pretrained ResNet50 on
# CIFAR-10 (83.99% test accuracy after 10 epochs on a GPU). This notebook runs the same workflow
# in about a minute on a 2-core CPU with no network, on scikit-learn's handwritten digits (1,797
# 8x8 images, shipped with the package):
#
# 1. **pretrain** a ResNet20 on the digits 0-4 and save its weights to a file;
# 2. **load** them into a new ResNet20 with `weights=path`, cut the classifier off, add a new head;
# 3. train the new head on the digits 5-9 with the backbone **frozen**, then **unfreeze** the
#    backbone and fine-tune everything at a lower learning rate, with only 30 labelled images per
#    class;
# 4. compare with the same network trained from scratch on the same 150 images.
#
# Test accuracy is read from the last epoch's `val_accuracy` (the test set is used only to report,
# never to choose anything).
#
# Regenerate with `.venv/bin/python notebooks/build.py 03_fine_tuning`.

# %%
import os
import tempfile

import keras
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import keras_resnet

keras.utils.set_random_seed(0)

# %% [markdown]
# ## Data: two tasks from one dataset
# The source task is digits 0-4 (all of them); the target task is digits 5-9, relabelled 0-4, with a
# small stratified training set and the rest held out for testing.

# %% tags=["stable"]
digits = load_digits()
images = (digits.images / 16.0).astype("float32")[..., None]  # (n, 8, 8, 1) in [0, 1]
labels = digits.target

x_source, y_source = images[labels < 5], labels[labels < 5]
x_target, y_target = images[labels >= 5], labels[labels >= 5] - 5
x_train, x_test, y_train, y_test = train_test_split(
    x_target, y_target, train_size=150, stratify=y_target, random_state=0)
print(f"source task (0-4): {len(x_source)} images")
print(f"target task (5-9): {len(x_train)} to train on, {len(x_test)} to test on")

fig, axes = plt.subplots(1, 10, figsize=(10, 1.3))
for digit, ax in enumerate(axes):
    ax.imshow(images[labels == digit][0, ..., 0], cmap="gray_r")
    ax.set_title(str(digit))
    ax.axis("off")
plt.show()

# %% [markdown]
# ## 1. Pretrain on the source task and save the weights
# The CIFAR ResNet20 of the paper (section 4.2) accepts inputs down to 4x4; 8x8 digits are fine.

# %%
def compile_model(model, learning_rate):
    model.compile(optimizer=keras.optimizers.Adam(learning_rate),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


pretrained = compile_model(keras_resnet.ResNet20(input_shape=(8, 8, 1), num_classes=5), 1e-3)
history = pretrained.fit(x_source, y_source, epochs=10, batch_size=64, verbose=0)
weights_path = os.path.join(tempfile.mkdtemp(), "resnet20_digits0-4.weights.h5")
pretrained.save_weights(weights_path)
print(f"source-task training accuracy after 10 epochs: {history.history['accuracy'][-1]:.3f}")
print("saved", os.path.basename(weights_path), f"({os.path.getsize(weights_path) / 1e6:.1f} MB)")

# %% [markdown]
# ## 2. Load the weights into a new model, and give it a new head
# `weights=path` loads a weights file into the freshly built model (as `weights="imagenet"` would
# load published ones). The features are the output of the global average pool, `avg_pool`.

# %% tags=["stable"]
base = keras_resnet.ResNet20(input_shape=(8, 8, 1), num_classes=5, weights=weights_path)
same = np.allclose(base(x_source[:32], training=False),
                   pretrained(x_source[:32], training=False), atol=1e-6)
print("loaded model predicts like the pretrained one:", same)

backbone = keras.Model(base.input, base.get_layer("avg_pool").output, name="backbone")
inputs = keras.Input((8, 8, 1), name="image")
# training=False keeps BatchNormalization in inference mode, also once the backbone is unfrozen.
features = backbone(inputs, training=False)
outputs = keras.layers.Dense(5, activation="softmax", name="new_head")(features)
model = keras.Model(inputs, outputs, name="resnet20_digits5-9")
print("backbone output:", backbone.output.shape)

# %% [markdown]
# ## 3. Frozen backbone, then fine-tune everything

# %%
backbone.trainable = False
compile_model(model, 1e-2)
print(f"trainable parameters with the backbone frozen: "
      f"{sum(int(np.prod(w.shape)) for w in model.trainable_weights):,}")
frozen = model.fit(x_train, y_train, epochs=20, batch_size=32, verbose=0,
                   validation_data=(x_test, y_test), validation_batch_size=256)
frozen_accuracy = frozen.history["val_accuracy"][-1]

backbone.trainable = True
compile_model(model, 1e-3)  # recompile after changing `trainable`
print(f"trainable parameters after unfreezing: "
      f"{sum(int(np.prod(w.shape)) for w in model.trainable_weights):,}")
tuned = model.fit(x_train, y_train, epochs=20, batch_size=32, verbose=0,
                  validation_data=(x_test, y_test), validation_batch_size=256)
tuned_accuracy = tuned.history["val_accuracy"][-1]

# %% [markdown]
# ## 4. The same network from scratch, same 150 images, same number of epochs

# %%
scratch = compile_model(keras_resnet.ResNet20(input_shape=(8, 8, 1), num_classes=5), 1e-3)
from_scratch = scratch.fit(x_train, y_train, epochs=40, batch_size=32, verbose=0,
                           validation_data=(x_test, y_test), validation_batch_size=256)
scratch_accuracy = from_scratch.history["val_accuracy"][-1]

print(f"test accuracy on digits 5-9 ({len(x_test)} images):")
print(f"  pretrained, new head only (frozen backbone): {frozen_accuracy:.3f}")
print(f"  pretrained, then fine-tuned end to end:      {tuned_accuracy:.3f}")
print(f"  from scratch:                                {scratch_accuracy:.3f}")
gain = tuned_accuracy - scratch_accuracy
verdict = "beats" if gain > 0.01 else "matches" if gain > -0.01 else "trails"
print(f"fine-tuning the pretrained net {verdict} training from scratch ({gain * 100:+.1f} points)")

# %%
fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(12, 4))
transfer = {k: frozen.history[k] + tuned.history[k] for k in frozen.history}
epochs = np.arange(1, len(transfer["loss"]) + 1)
for history, name, color in ((transfer, "pretrained", "tab:blue"),
                             (from_scratch.history, "from scratch", "tab:orange")):
    ax_loss.plot(epochs, history["loss"], color=color, label=f"{name}, train")
    ax_loss.plot(epochs, history["val_loss"], color=color, linestyle="--", label=f"{name}, test")
    ax_acc.plot(epochs, history["accuracy"], color=color, label=f"{name}, train")
    ax_acc.plot(epochs, history["val_accuracy"], color=color, linestyle="--",
                label=f"{name}, test")
for ax, title in ((ax_loss, "loss"), (ax_acc, "accuracy")):
    ax.axvline(len(frozen.history["loss"]) + 0.5, color="gray", linewidth=1)
    ax.set(xlabel="epoch", title=title)
    ax.grid(alpha=0.3)
ax_acc.text(len(frozen.history["loss"]) + 1, 0.05, "backbone unfrozen", color="gray")
ax_acc.set_ylim(0, 1.02)
ax_loss.set_yscale("log")
ax_acc.legend(loc="center right")
plt.show()

# %% [markdown]
# What to expect (numbers vary a little from run to run): a new linear head on the frozen backbone
# reaches about 65-80%, since features learnt on digits 0-4 only partly fit 5-9; unfreezing the
# backbone lifts it to about 90-95%, the level that training from scratch also reaches on a dataset
# this small and easy. Transfer pays off when the source task is large and the target small and
# harder: with an ImageNet checkpoint (`weights="imagenet"` or a converted torchvision file) the
# same steps fine-tune ResNet50 on CIFAR-10 as that blog post does.
