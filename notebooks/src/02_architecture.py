# %% [markdown]
# # 2. Architecture diagrams
#
# `keras_resnet.plotting.plot_model(model, path, level=...)` draws a model at two levels:
#
# - `level="block"`: one node per stem, residual block and head, labelled with the block's type,
#   stride, branch convolutions, shortcut and output shape. Every depth up to ResNet152 fits a
#   readable PNG (a full-layer ResNet152 PNG would exceed graphviz's 32767 px limit).
# - `level="layer"`: every layer with its class, settings and output shape, boxed by block; best as
#   SVG.
#
# The same drawings of every registered model are committed in `plots/`
# (`keras-resnet plot --all --out plots --level both`). Regenerate this notebook with
# `.venv/bin/python notebooks/build.py 02_architecture`.

# %%
import os
import tempfile

import keras
from IPython.display import SVG, Image, display

import keras_resnet
from keras_resnet import plotting
from keras_resnet.report import format_table

out = tempfile.mkdtemp()  # the drawings go to a scratch directory

# %% [markdown]
# ## Block level: ResNet18

# %%
display(Image(plotting.plot_model(keras_resnet.ResNet18(), os.path.join(out, "resnet18.png"))))

# %% [markdown]
# The graphviz source is available too, e.g. to count the nodes of the deepest net: one per block,
# plus the input, the stem and the head.

# %% tags=["stable"]
for name in ("resnet50", "resnet152"):
    source = plotting.dot_source(keras_resnet.get_model(name), "block")
    print(name, "nodes:", source.count("[label="), "edges:", source.count("->"))
    keras.backend.clear_session()

# %% [markdown]
# ## Layer level: the first two blocks of ResNet20's second stage
# A model built from `stack` draws like any other; here two basic blocks at 32 filters with the
# paper's option A shortcut (subsample, then zero-pad the new channels).

# %%
inputs = keras.Input((32, 32, 16), name="input")
x = keras_resnet.stack(inputs, 32, 2, stride=2, block_type="basic", variant="v1.5",
                       shortcut="A", name="conv3")
display(SVG(filename=plotting.plot_model(keras.Model(inputs, x, name="stage"),
                                         os.path.join(out, "stage.svg"), level="layer")))

# %% [markdown]
# ## Shortcut options A, B and C side by side
# The paper (section 3.3, Table 3) compares three shortcuts: **A** zero-pads the extra channels (no
# parameters), **B** projects with a 1x1 conv only where the shape changes, **C** projects on every
# block. Below: a downsampling block followed by an identity block, at layer level.

# %%
models = []
for option in "ABC":
    inputs = keras.Input((16, 16, 16), name="input")
    x = keras_resnet.stack(inputs, 32, 2, stride=2, block_type="basic", variant="v1.5",
                           shortcut=option, name="conv3")
    models.append(keras.Model(inputs, x, name=f"option {option}"))
# A list of models is drawn side by side.
display(SVG(filename=plotting.plot_model(models, os.path.join(out, "shortcuts.svg"),
                                         level="layer")))

# %% tags=["stable"]
rows = []
for name in ("resnet20", "resnet56", "resnet34"):
    counts = []
    for option in "ABC":
        model = keras_resnet.get_model(name, shortcut=option)
        counts.append(f"{sum(int(w.numpy().size) for w in model.trainable_weights):,}")
        keras.backend.clear_session()
    rows.append((name, *counts))
print("trainable parameters by shortcut option")
print(format_table(("model", "A", "B", "C"), rows))

# %% [markdown]
# Option A gives the paper's CIFAR counts exactly (ResNet20: 269,722). C adds about 0.9M parameters
# to ResNet34 over B, for the 0.3 point of ImageNet error the paper reports (24.52% -> 24.19%).
#
# ## Conventions: v1 vs v1.5 vs v2
# - **v1** (keras.applications, and the Keras code of the blog posts this project grew from): the
#   stride sits on a bottleneck's first 1x1 conv, every conv has a bias.
# - **v1.5** (torchvision, timm): the stride sits on the 3x3 conv, no conv bias.
# - **v2** (pre-activation, He et al. 2016): BN-ReLU before each conv, and keras.applications puts
#   each stage's stride on the *last* block of the previous stage.
#
# The block-level diagrams of a two-stage bottleneck net show where the stride goes (`/2`):

# %%
models = [keras_resnet.ResNet((2, 2), input_shape=(64, 64, 3), num_classes=10,
                              block_type="bottleneck", variant=variant, name=variant)
          for variant in ("v1", "v1.5", "v2")]
display(SVG(filename=plotting.plot_model(models, os.path.join(out, "variants.svg"))))

# %% tags=["stable"]
rows = []
for variant in ("v1", "v1.5", "v2"):
    model = keras_resnet.ResNet50(variant=variant)
    trainable = sum(int(w.numpy().size) for w in model.trainable_weights)
    rows.append((variant, f"{model.count_params():,}", f"{trainable:,}",
                 f"{keras_resnet.count_macs(model) / 1e9:.3f}"))
    keras.backend.clear_session()
print("ResNet50 at 224x224")
print(format_table(("variant", "params", "trainable", "GMACs"), rows))

# %% [markdown]
# Moving the stride to the 3x3 conv (v1.5) makes the first 1x1 conv of each downsampling block run
# at full resolution: 4.1 GMACs instead of 3.9, the figure torchvision quotes. v2 downsamples one
# block earlier in stages 2-4, which makes it cheaper.
