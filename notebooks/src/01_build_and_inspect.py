# %% [markdown]
# # 1. Build and inspect every ResNet
#
# Every model in the zoo comes from one registry (`keras_resnet.registry`). This notebook
# builds each model the paper and the peers (keras.applications, torchvision) publish figures for,
# prints its stages, and checks its parameters and multiply-accumulates (MACs) against the paper
# (He et al. 2015, Table 1 and section 4.2) and the peers; then lists timm's family from the
# registry's recorded metadata against timm's counts. Regenerate with
# `.venv/bin/python notebooks/build.py 01_build_and_inspect`.

# %%
import keras
import matplotlib.pyplot as plt

import keras_resnet
from keras_resnet.report import format_table, measure
from keras_resnet.registry import ARCHS
from keras_resnet.specs import paper_depth

print("keras", keras.__version__, "| backend", keras.backend.backend())

# %% [markdown]
# ## The spec table
# One line per architecture: block type, blocks per stage, widths and stem. The paper's depth counts
# the weighted layers on the main path.

# %% tags=["stable"]
rows = [(s.name, s.block_type, s.blocks_per_stage, s.widths, s.stem.name, paper_depth(s))
        for s in ARCHS.values()]
print(format_table(("arch", "block", "blocks/stage", "widths", "stem", "depth"), rows))

# %% [markdown]
# ## `model.summary()`
# The full summary of the smallest ImageNet net and of the smallest CIFAR net. Layer names follow
# keras.applications: `conv{stage}_block{i}_{0|1|2|3}_{conv|bn|relu}`.

# %% tags=["stable"]
keras_resnet.ResNet18().summary()

# %% tags=["stable"]
keras_resnet.ResNet20().summary()

# %% [markdown]
# ## Every depth: stages, parameters and MACs
# For every model with published figures: the output shape and parameters of each stage (a per-stage summary
# read from the layer names), then its parameter and MAC counts. `count_params()` includes the
# BatchNormalization moving statistics (as keras.applications reports it); torchvision and the paper
# count trainable parameters only. MACs are counted at the default input size (224x224 or 32x32), as
# the paper's Table 1 counts "FLOPs" (multiply-adds).

# %% tags=["stable"]
def stage_of(layer_name):
    if layer_name.startswith(("conv1_", "pool1_")) or layer_name == "input":
        return "stem"
    if layer_name.startswith("conv") and "_block" in layer_name:
        return layer_name.split("_")[0]
    return "head"


def published(name):
    """Has figures of the paper, keras.applications or torchvision (not only timm's count)."""
    return bool(set(keras_resnet.model_info(name).reference) - {"timm_params"})


rows, points = [], []
for name in filter(published, keras_resnet.list_models()):
    info = keras_resnet.model_info(name)
    model = keras_resnet.get_model(name)
    stages = {}
    for layer in model.layers:
        stage = stages.setdefault(stage_of(layer.name), {"params": 0, "layers": 0})
        stage["params"] += layer.count_params()
        stage["layers"] += 1
        stage["shape"] = layer.output.shape[1:]
    print(f"{name}: {len(model.layers)} layers, {model.count_params():,} parameters")
    for stage, s in stages.items():
        print(f"  {stage:<5} {s['layers']:>4} layers  {s['params']:>12,} params  out {s['shape']}")

    m = measure(name, model)  # parameters, MACs, and the v1.5 twin where torch has the net
    agrees = m.agrees()
    rows.append((name, info.variant, f"{m.params:,}", f"{m.trainable:,}",
                 "-" if agrees is None else ("yes" if agrees else "NO"),
                 f"{m.macs / 1e9:.3f}", m.reference.get("paper_gmacs") or "-",
                 m.vs_paper() or "-"))
    points.append((name, m.trainable / 1e6, m.macs / 1e9))
    keras.backend.clear_session()

# %% tags=["stable"]
print(format_table(("model", "variant", "params", "trainable", "= peers/paper", "GMACs",
                    "paper GMACs", "vs paper"), rows))

# %% [markdown]
# "= peers/paper" checks `count_params()` against keras.applications (ResNet50-152, V2), the
# trainable count of the `variant="v1.5"` build against torchvision (ResNet18-152), and the
# trainable count against the paper's section 4.2 (CIFAR nets). The MAC counts are within 2% of
# Table 1, which gives one decimal (it lists 3.6 for ResNet34's 3.664 and 3.8 for ResNet50's 3.858).

# %% [markdown]
# ## timm's family
# The other registered models are timm's (`resnet` and `resnetv2` modules). Building the largest
# (ResNet-RS 420, 192 M parameters) takes minutes, so this table reads the metadata the registry
# records: `tests/test_registry.py` rebuilds every model and checks it, and
# `tests/test_timm_family.py` checks the trainable count against timm's own.

# %% tags=["stable"]
timm_rows = []
for name in keras_resnet.list_models():
    info = keras_resnet.model_info(name)
    if published(name) or "timm_params" not in info.reference:
        continue
    # "v1" (ResNet200's default) has keras.applications' convolution biases, which timm has not.
    same = (None if info.variant == "v1"
            else info.trainable_params == info.reference["timm_params"])
    timm_rows.append((name, info.variant, info.description or "-", f"{info.trainable_params:,}",
                      "-" if same is None else ("yes" if same else "NO"),
                      f"{info.macs / 1e9:.2f}", "x".join(map(str, info.input_shape[:2]))))
    points.append((name, info.trainable_params / 1e6, info.macs / 1e9))
print(format_table(("model", "variant", "what", "trainable", "= timm", "GMACs", "input"),
                   timm_rows))

# %%
fig, ax = plt.subplots(figsize=(7, 4.5))
for name, mparams, gmacs in points:
    ax.scatter(mparams, gmacs, color="tab:blue" if gmacs > 1 else "tab:orange")
    if published(name):  # timm's family unlabelled: too many names to read
        ax.annotate(name, (mparams, gmacs), fontsize=8, xytext=(4, 2), textcoords="offset points")
ax.set(xscale="log", yscale="log", xlabel="trainable parameters (millions)",
       ylabel="GMACs per image", title="Cost of every registered model at its default size")
ax.grid(True, which="both", alpha=0.3)
plt.show()

# %% [markdown]
# ## Features for other tasks
# Without the classifier any input of at least 32x32 works; the builder records each stage's
# output (`model.pyramid_outputs`, also the layers `conv{2..5}_block{n}_out`): the usual feature
# pyramid.

# %% tags=["stable"]
backbone = keras_resnet.ResNet50(include_top=False, input_shape=(256, 320, 3))
pyramid = keras.Model(backbone.input, list(backbone.pyramid_outputs.values()))
for tensor in pyramid.outputs:
    print(tensor.shape)
