"""Every registered model builds, has the right shapes, and honours its arguments."""

import keras
import numpy as np
import pytest

import keras_resnet
from keras_resnet.registry import model_info


@pytest.mark.parametrize("name", ["resnet18", "resnet50", "resnet50v2", "resnet20"])
@pytest.mark.parametrize("pooling", [None, "avg", "max"])
def test_headless_feature_maps(name, pooling):
    spec = model_info(name).spec
    model = keras_resnet.get_model(name, include_top=False, pooling=pooling)
    channels = spec.widths[-1] * (4 if spec.block_type == "bottleneck" else 1)
    assert model.input_shape == (None, None, None, 3)  # any size without the classifier
    if pooling is None:
        assert model.output_shape == (None, None, None, channels)
        size = 2 * spec.min_input_size
        out = model(np.zeros((1, size, size, 3), "float32"))
        stride = spec.stem.stride * 2 ** (len(spec.blocks_per_stage) - 1)
        assert out.shape == (1, size // stride, size // stride, channels)
    else:
        assert model.output_shape == (None, channels)
        assert model.layers[-1].name == f"{pooling}_pool"


def test_positional_call_and_logits():
    model = keras_resnet.ResNet50((64, 64, 3), 10, classifier_activation=None)
    assert model.input_shape == (None, 64, 64, 3)
    assert model.output_shape == (None, 10)
    assert model.get_layer("predictions").activation is keras.activations.linear


def test_default_shapes_follow_the_family():
    assert keras_resnet.ResNet18().input_shape == (None, 224, 224, 3)
    cifar = keras_resnet.ResNet20()
    assert cifar.input_shape == (None, 32, 32, 3)
    assert cifar.output_shape == (None, 10)


def test_input_tensor():
    tensor = keras.Input((40, 56, 3), name="my_images")
    model = keras_resnet.ResNet34(input_tensor=tensor, num_classes=3)
    assert model.inputs[0] is tensor
    assert model.output_shape == (None, 3)
    # A model built on another model's output (a tensor downstream of an Input).
    features = keras.layers.Rescaling(1 / 255.0)(tensor)
    model = keras_resnet.ResNet20(input_tensor=features, num_classes=4)
    assert model.inputs[0] is tensor
    assert model(np.ones((1, 40, 56, 3), "float32")).shape == (1, 4)


@pytest.mark.slow  # two ResNet50 builds
def test_channels_first_matches_channels_last(rng):
    x = rng.uniform(-1, 1, (2, 40, 48, 3)).astype("float32")
    last = keras_resnet.ResNet18((40, 48, 3), 5, classifier_activation=None)
    keras.config.set_image_data_format("channels_first")
    first = keras_resnet.ResNet18((3, 40, 48), 5, classifier_activation=None)
    assert first.get_layer("conv1_bn").axis in (1, [1])
    first.set_weights(last.get_weights())
    np.testing.assert_allclose(first.predict(x.transpose(0, 3, 1, 2), verbose=0),
                               last.predict(x, verbose=0), rtol=1e-4, atol=1e-5)
    headless = keras_resnet.ResNet20((3, 8, 16), include_top=False)
    assert headless.output_shape == (None, 64, 2, 4)


def _layer(model, name):
    return model.get_layer(name)


@pytest.mark.parametrize("variant,stride_1x1,stride_3x3,bias,eps,momentum", [
    ("v1", (2, 2), (1, 1), True, 1.001e-5, 0.99),
    ("v1.5", (1, 1), (2, 2), False, 1e-5, 0.9),
])
def test_variant_conventions_are_applied(variant, stride_1x1, stride_3x3, bias, eps, momentum):
    model = keras_resnet.ResNet50((64, 64, 3), variant=variant)
    assert _layer(model, "conv3_block1_1_conv").strides == stride_1x1
    assert _layer(model, "conv3_block1_2_conv").strides == stride_3x3
    convs = [l for l in model.layers if isinstance(l, keras.layers.Conv2D)]
    assert {c.use_bias for c in convs} == {bias}
    bns = [l for l in model.layers if isinstance(l, keras.layers.BatchNormalization)]
    assert {(b.epsilon, b.momentum) for b in bns} == {(eps, momentum)}
    if variant == "v1.5":  # symmetric explicit padding before the strided 3x3
        assert _layer(model, "conv3_block1_2_pad").padding == ((1, 1), (1, 1))
        assert _layer(model, "conv3_block1_2_conv").padding == "valid"


def test_v2_layout_matches_keras_applications_conventions():
    model = keras_resnet.ResNet50V2((64, 64, 3))
    # Stride on the last block of conv2..conv4, on its 3x3 conv; max-pool shortcut there.
    assert _layer(model, "conv2_block3_2_conv").strides == (2, 2)
    assert _layer(model, "conv2_block3_0_pool").strides == (2, 2)
    assert _layer(model, "conv5_block3_2_conv").strides == (1, 1)
    assert not _layer(model, "conv2_block1_1_conv").use_bias
    assert _layer(model, "conv2_block1_3_conv").use_bias
    names = [l.name for l in model.layers]
    assert "post_bn" in names  # v2 normalises after the last stage, not after the stem conv
    assert "conv1_bn" not in names


def test_basic_nets_start_with_an_identity_shortcut():
    for variant in ("v1", "v1.5"):
        names = {l.name for l in keras_resnet.ResNet18((32, 32, 3), variant=variant).layers}
        assert "conv2_block1_0_conv" not in names
        assert {"conv3_block1_0_conv", "conv4_block1_0_conv", "conv5_block1_0_conv"} <= names
        keras.backend.clear_session()


def test_shortcut_options():
    def projections(model):
        return sum(l.name.endswith("_0_conv") for l in model.layers)

    a = keras_resnet.ResNet20(shortcut="A")
    b = keras_resnet.ResNet20(shortcut="B")
    c = keras_resnet.ResNet20(shortcut="C")
    assert (projections(a), projections(b), projections(c)) == (0, 2, 9)
    assert a.count_params() < b.count_params() < c.count_params()
    # Option A: strided subsampling + zero channels, no weights.
    pad = a.get_layer("conv3_block1_0_pad")
    assert pad.extra_channels == 16 and not pad.weights


def test_option_a_shortcut_is_subsample_plus_zero_channels(rng):
    x = rng.normal(size=(1, 8, 8, 4)).astype("float32")
    inputs = keras.Input((8, 8, 4))
    out = keras_resnet.block(inputs, 8, 2, block_type="basic", variant="v1.5",
                             shortcut="A", name="b")
    model = keras.Model(inputs, out)
    # Zero the residual branch: the block then computes relu(shortcut(x)).
    model.get_layer("b_2_bn").set_weights([np.zeros(8, "float32")] * 2
                                          + [np.zeros(8, "float32"), np.ones(8, "float32")])
    y = model.predict(x, verbose=0)
    expected = np.concatenate([np.zeros((1, 4, 4, 2)), x[:, ::2, ::2, :], np.zeros((1, 4, 4, 2))],
                              axis=-1)
    np.testing.assert_allclose(y, np.maximum(expected, 0), atol=1e-6)


def test_block_and_stack_build_a_custom_resnet():
    inputs = keras.Input((64, 64, 3))
    x = keras_resnet.stem(inputs, 32, kind="imagenet", variant="v1.5")
    x = keras_resnet.stack(x, 32, 2, 1, block_type="bottleneck", variant="v1.5", name="conv2")
    x = keras_resnet.stack(x, 64, 2, 2, block_type="bottleneck", variant="v1.5", name="conv3")
    x = keras_resnet.block(x, 128, 2, block_type="basic", variant="v1.5", name="extra")
    x = keras_resnet.head(x, num_classes=5, variant="v1.5")
    model = keras.Model(inputs, x)
    assert model.output_shape == (None, 5)
    assert model.get_layer("conv3_block2_3_conv").filters == 256
    assert model.get_layer("extra_0_conv").strides == (2, 2)


def test_custom_stage_list_builder_makes_a_resnet26():
    model = keras_resnet.ResNet((2, 2, 2, 2), (64, 64, 3), 10, block_type="bottleneck",
                                variant="v1.5", name="resnet26")
    main_path = [l for l in model.layers if isinstance(l, (keras.layers.Conv2D, keras.layers.Dense))
                 and not l.name.endswith("_0_conv")]
    assert len(main_path) == 26
    wide = keras_resnet.ResNet((1, 1, 1), (32, 32, 3), stem="cifar", widths=(32, 64, 128))
    assert wide.get_layer("conv4_block1_2_conv").filters == 128


def test_weights_path_loads_keras_weights_file(tmp_path, rng):
    model = keras_resnet.ResNet18((32, 32, 3), 4)
    randomize = [rng.normal(size=w.shape).astype("float32") * 0.01 for w in model.get_weights()]
    model.set_weights(randomize)
    path = tmp_path / "r18.weights.h5"
    model.save_weights(path)
    keras.backend.clear_session()
    again = keras_resnet.ResNet18((32, 32, 3), 4, weights=str(path))
    for a, b in zip(again.get_weights(), randomize):
        np.testing.assert_array_equal(a, b)


def test_mixed_precision_keeps_probabilities_in_float32():
    keras.config.set_dtype_policy("mixed_float16")
    try:
        model = keras_resnet.ResNet20()
        assert model.get_layer("conv1_conv").compute_dtype == "float16"
        assert model.output.dtype == "float32"
    finally:
        keras.config.set_dtype_policy("float32")


@pytest.mark.slow  # two subprocesses importing TensorFlow
@pytest.mark.parametrize("imports", ["import keras_resnet, keras",
                                     "import keras_resnet, tensorflow, keras"])
def test_saved_file_loads_after_a_lazy_import_keras_resnet(imports, tmp_path):
    # `import keras_resnet` loads no framework; the zoo's layers (named in the file)
    # are registered as soon as Keras is imported, however it gets imported.
    import subprocess
    import sys
    path = tmp_path / "resnet20.keras"
    keras_resnet.ResNet20((8, 8, 3), 3).save(path)
    code = f"{imports}; print(keras.saving.load_model({str(path)!r}).count_params())"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split()[-1] == str(keras_resnet.ResNet20((8, 8, 3), 3).count_params())
