"""Backbones, fine-tuning controls, ResNet-D, ResNeXt, Wide ResNet and ResNet200."""

import keras
import numpy as np
import pytest

import keras_resnet
from conftest import randomize_bn_statistics


@pytest.mark.slow  # builds every family member
def test_family_structure():
    d = keras_resnet.ResNet50D((64, 64, 3))
    assert [d.get_layer(f"conv1_{i}_conv").filters for i in (1, 2, 3)] == [32, 32, 64]
    assert d.get_layer("conv1_1_conv").strides == (2, 2)
    pool = d.get_layer("conv3_block1_0_pool")
    assert isinstance(pool, keras.layers.AveragePooling2D) and pool.strides == (2, 2)
    assert d.get_layer("conv3_block1_0_conv").strides == (1, 1)
    keras.backend.clear_session()
    x = keras_resnet.ResNeXt50_32x4d((64, 64, 3))
    conv = x.get_layer("conv2_block1_2_conv")
    assert (conv.groups, conv.filters) == (32, 128)
    assert x.get_layer("conv5_block3_3_conv").filters == 2048
    keras.backend.clear_session()
    w = keras_resnet.WideResNet50_2((64, 64, 3))
    assert w.get_layer("conv2_block1_2_conv").filters == 128
    assert w.get_layer("conv2_block1_2_conv").groups == 1
    keras.backend.clear_session()
    r200 = keras_resnet.ResNet200((32, 32, 3))
    assert sum(l.name.endswith("_out") for l in r200.layers) == 3 + 24 + 36 + 3


@pytest.mark.parametrize("name", ["resnext50_32x4d", "resnet50d"])
def test_grouped_and_deep_stem_models_run(name, rng):
    model = keras_resnet.get_model(name, input_shape=(32, 48, 3), num_classes=4)
    assert model.predict(rng.uniform(size=(2, 32, 48, 3)), verbose=0).shape == (2, 4)


@pytest.mark.parametrize("name,variant", [("resnet18", "v1"), ("resnet50", "v1.5"),
                                          ("resnet50v2", "v2"), ("resnet20", "v1.5")])
def test_backbone_stage_maps(name, variant, rng):
    model = keras_resnet.backbone(name, (64, 64, 3), variant=variant)
    stages = keras_resnet.stage_names(name)
    x = rng.uniform(-1, 1, (1, 64, 64, 3)).astype("float32")
    features = model.predict(x, verbose=0)
    assert sorted(features) == stages
    strides = [4, 8, 16, 32] if len(stages) == 4 else [1, 2, 4]
    for stage, stride in zip(stages, strides):
        assert features[stage].shape[1:3] == (64 // stride, 64 // stride), stage
    # conv5 (the last stage) is exactly the include_top=False model's output.
    headless = keras_resnet.get_model(name, input_shape=(64, 64, 3), include_top=False,
                                      variant=variant)
    randomize_bn_statistics(headless, rng)
    model.set_weights(headless.get_weights())
    np.testing.assert_allclose(model.predict(x, verbose=0)[stages[-1]],
                               headless.predict(x, verbose=0), rtol=1e-5, atol=1e-5)


def test_backbone_subset_of_stages():
    model = keras_resnet.backbone("resnet34", outputs=("conv3", "conv5"))
    assert sorted(model.output) == ["conv3", "conv5"]
    assert model.output["conv3"].shape[-1] == 128


@pytest.mark.parametrize("output_stride,sizes", [(16, (16, 8, 4, 4)), (8, (16, 8, 8, 8))])
def test_output_stride_replaces_strides_by_dilation(output_stride, sizes):
    model = keras_resnet.backbone("resnet50", (64, 64, 3), variant="v1.5",
                                  output_stride=output_stride)
    assert tuple(model.output[s].shape[1] for s in keras_resnet.stage_names("resnet50")) == sizes
    # torchvision's rule: the first block of a dilated stage keeps the previous
    # dilation, the later blocks use the new one.
    first, later = model.get_layer("conv5_block1_2_conv"), model.get_layer("conv5_block2_2_conv")
    assert first.strides == (1, 1) and later.strides == (1, 1)
    assert first.dilation_rate == ((2, 2) if output_stride == 8 else (1, 1))
    assert later.dilation_rate == ((4, 4) if output_stride == 8 else (2, 2))
    # Dilation changes no weight shape, so the same weights load.
    plain = keras_resnet.backbone("resnet50", (64, 64, 3), variant="v1.5")
    assert [w.shape for w in plain.weights] == [w.shape for w in model.weights]


def test_output_stride_in_v2_dilates_the_stage_end_strides():
    model = keras_resnet.backbone("resnet50v2", (64, 64, 3), output_stride=16)
    assert model.output["conv5"].shape[1] == 4
    assert model.get_layer("conv4_block6_2_conv").strides == (1, 1)
    assert model.get_layer("conv5_block1_2_conv").dilation_rate == (2, 2)


def test_freeze_up_to_a_stage_and_bn_stays_in_inference_mode(rng):
    model = keras_resnet.ResNet18((32, 32, 3), 3)
    keras_resnet.freeze(model, up_to="conv3")
    assert not model.get_layer("conv1_conv").trainable
    assert not model.get_layer("conv3_block2_2_bn").trainable
    assert model.get_layer("conv4_block1_1_conv").trainable
    assert model.get_layer("predictions").trainable
    keras_resnet.freeze(model, up_to="conv5")
    assert not model.get_layer("conv4_block1_1_conv").trainable
    # A frozen BN neither uses batch statistics nor updates its moving ones.
    bn = model.get_layer("conv2_block1_1_bn")
    randomize_bn_statistics(model, rng)
    before = [w.copy() for w in bn.get_weights()]
    x = rng.uniform(size=(8, 32, 32, 3)).astype("float32")
    np.testing.assert_allclose(model(x, training=True), model(x, training=False), rtol=1e-5)
    model.compile("sgd", "sparse_categorical_crossentropy")
    model.fit(x, np.arange(8) % 3, epochs=1, verbose=0)
    for a, b in zip(bn.get_weights(), before):
        np.testing.assert_array_equal(a, b)


def test_zero_init_residual():
    model = keras_resnet.ResNet50((32, 32, 3), variant="v1.5", zero_init_residual=True)
    last_bns = [l for l in model.layers if l.name.endswith("_3_bn")]
    assert len(last_bns) == 16
    assert all(not np.any(l.gamma.numpy()) for l in last_bns)
    assert np.all(model.get_layer("conv2_block1_2_bn").gamma.numpy() == 1)
    assert np.all(model.get_layer("conv2_block1_0_bn").gamma.numpy() == 1)


def test_drop_path_is_linear_in_depth_and_only_active_while_training(rng):
    plain = keras_resnet.ResNet20()
    model = keras_resnet.ResNet20(drop_path_rate=0.2)
    rates = [l.rate for l in model.layers if isinstance(l, keras_resnet.layers.DropPath)]
    assert len(rates) == 8  # the first of the 9 blocks has rate 0
    np.testing.assert_allclose(rates, [0.2 * i / 8 for i in range(1, 9)])
    model.set_weights(plain.get_weights())
    x = rng.uniform(size=(16, 32, 32, 3)).astype("float32")
    np.testing.assert_allclose(model(x, training=False), plain(x, training=False), rtol=1e-5)
    assert not np.allclose(model(x, training=True), plain(x, training=True))


@pytest.mark.parametrize("call,message", [
    (lambda: keras_resnet.backbone("resnet50", outputs=("conv6",)), r"`outputs` must be"),
    (lambda: keras_resnet.backbone("resnet50", outputs="conv5"), r"`outputs` must be"),
    (lambda: keras_resnet.backbone("resnet50", output_stride=4), r"`output_stride` must be one of"),
    (lambda: keras_resnet.freeze(keras_resnet.ResNet20(), up_to="conv5"), r"`up_to` must name"),
    (lambda: keras_resnet.ResNet18(drop_path_rate=-0.1), r"`drop_path_rate` must be a number"),
    (lambda: keras_resnet.ResNet50V2(zero_init_residual=True), r"`zero_init_residual=True` needs"),
    (lambda: keras_resnet.ResNet((2, 2), groups=0, block_type="bottleneck"), r"`groups` must be"),
    (lambda: keras_resnet.ResNet((2, 2), groups=32), r"Basic blocks have no grouped"),
])
def test_bad_family_arguments(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_backbone_loads_torch_weights_like_the_headless_model(tmp_path, rng):
    from safetensors.numpy import save_file

    import torch_goldens as g
    path = tmp_path / "resnet18.safetensors"
    save_file(g.random_state_dict("resnet18"), str(path))
    features = keras_resnet.backbone("resnet18", (64, 64, 3), variant="v1.5", weights=str(path),
                                     output_stride=16)
    headless = keras_resnet.ResNet18((64, 64, 3), include_top=False, variant="v1.5",
                                     weights=str(path))
    for a, b in zip(features.get_weights(), headless.get_weights()):
        np.testing.assert_array_equal(a, b)
    x = rng.uniform(-1, 1, (1, 64, 64, 3)).astype("float32")
    assert features(x)["conv5"].shape == (1, 4, 4, 512)  # dilated, same weights
