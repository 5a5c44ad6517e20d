"""The package reads as layers: each module imports only its own layer and those below,
and no imports (module-level or inside functions) form a cycle."""

import os

import pytest
from import_graph import find_cycle, import_graph

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GRAPH = import_graph(ROOT, "keras_resnet")

# Bottom to top. A module may import modules of its own layer and of lower ones.
LAYERS = [
    # leaves: the vocabulary, and helpers that know nothing of models
    {"specs", "atomic", "downloads", "image_files", "keras_compat", "layers", "macs",
     "torch_worker", "cpu"},
    # data, no framework: which models exist, which checkpoints, what a weights value means
    {"registry", "pretrained", "pretrained_timm", "imagenet_labels"},
    # take resolved records: input normalisation and transforms, weight files
    {"preprocessing", "weights", "weights.assign", "weights.hub", "weights.imagenet",
     "weights.keras_files", "weights.legacy_h5", "weights.torch_layout"},
    # building
    {"blocks", "models", "remat", "inference", "finetune"},
    # user-facing functions
    {"builders", "classify", "feature_maps", "report", "plotting", "deploy", "exported",
     "sharing", "benchmark"},
    # training and its data
    {"data", "data.augment", "data.base", "data.cifar", "data.digits", "data.folder",
     "data.imagenet_val", "imagenet_eval", "data.photos", "data.pipeline", "training",
     "training.callbacks", "training.distribute",
     "training.files", "training.preemption", "training.recipes", "training.reports",
     "training.run", "training.settings"},
    # the command line
    {"cli", "__main__"},
]
RANK = {f"keras_resnet.{m}": i for i, layer in enumerate(LAYERS) for m in layer}


def test_the_graph_is_read_from_the_source():
    # A function-local import counts: models imports the weights loader inside build_resnet.
    assert "keras_resnet.weights" in GRAPH["keras_resnet.models"]
    assert "keras_resnet.pretrained" in GRAPH["keras_resnet.models"]
    assert find_cycle({"a": ["b"], "b": ["c"], "c": ["a"]}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": ["b"], "b": []}) is None


def test_no_import_cycle():
    cycle = find_cycle(GRAPH)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_every_module_has_a_layer():
    missing = sorted(set(GRAPH) - set(RANK) - {"keras_resnet"})
    assert not missing, f"add these modules to a layer in {__file__}: {missing}"


@pytest.mark.parametrize("module", sorted(RANK))
def test_a_module_imports_only_its_layer_and_below(module):
    upward = [t for t in GRAPH.get(module, []) if RANK.get(t, -1) > RANK[module]]
    assert not upward, f"{module} (layer {RANK[module]}) imports higher layers: {upward}"


def test_the_torch_worker_imports_nothing_of_the_package():
    # It runs by its path under a Python that may have torch and no Keras.
    assert GRAPH["keras_resnet.torch_worker"] == []


def test_the_package_imports_only_the_registry():
    # `import keras_resnet` stays framework-free; everything else is imported on first use.
    assert GRAPH["keras_resnet"] == ["keras_resnet.registry"]
