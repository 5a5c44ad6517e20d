"""Every depth against torchvision: seeded random weights, loaded through .safetensors,
match the logits torchvision recorded (scripts/make_torch_goldens.py)."""

import numpy as np
import pytest
from safetensors.numpy import save_file

import keras_resnet
from keras_resnet.registry import ARCHS

import torch_goldens as g


@pytest.fixture(scope="module")
def goldens():
    return np.load(g.GOLDENS_PATH)


@pytest.mark.slow  # regenerates every golden model's weights
def test_goldens_are_current(goldens):
    # The architecture table of the generator is the peers', and ours.
    for name, (block_type, blocks, groups, width, resnet_d, _) in g.DEPTHS.items():
        spec = ARCHS[name]
        ours = (spec.block_type, spec.blocks_per_stage, spec.groups, spec.width_per_group,
                spec.stem.name == "deep", spec.avg_down)
        assert ours == (block_type, blocks, groups, width, resnet_d, resnet_d), name
    # numpy still draws the numbers the goldens were recorded with; if not, rerun
    # scripts/make_torch_goldens.py (see its docstring).
    np.testing.assert_allclose(g.fingerprint([g.random_input()]), goldens["input_fingerprint"],
                               rtol=1e-12)
    for name in g.DEPTHS:
        np.testing.assert_allclose(g.fingerprint(g.random_state_dict(name).values()),
                                   goldens[f"{name}_fingerprint"], rtol=1e-12,
                                   err_msg=f"{name}: weights drawn differ from the goldens'")
        assert goldens[f"{name}_logits"].shape == (2, g.NUM_CLASSES)
    assert str(goldens["torchvision_version"]).startswith("0.29.")


@pytest.mark.parametrize("name", list(g.DEPTHS))
def test_safetensors_matches_torchvision(name, goldens, tmp_path):
    path = tmp_path / f"{name}.safetensors"
    save_file(g.random_state_dict(name), str(path))
    model = keras_resnet.get_model(name, variant="v1.5", num_classes=g.NUM_CLASSES,
                                   input_shape=(64, 64, 3), classifier_activation=None,
                                   weights=str(path))
    logits = model.predict(g.random_input().transpose(0, 2, 3, 1), verbose=0)
    expected = goldens[f"{name}_logits"]
    # 1e-4 relative to the logits' scale (single logits can be near zero).
    np.testing.assert_allclose(logits, expected, rtol=1e-4, atol=1e-4 * np.abs(expected).max())
