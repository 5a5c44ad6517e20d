"""`keras-resnet convert`, and Keras' own export of a zoo model: SavedModel and TFLite."""


import keras
import numpy as np
import pytest
from safetensors.numpy import save_file

import keras_resnet
from keras_resnet.cli import main

import torch_goldens as g
from conftest import assert_close, randomize_bn_statistics, tflite_run


@pytest.fixture(scope="module")
def r18_safetensors(tmp_path_factory):
    path = tmp_path_factory.mktemp("src") / "resnet18.safetensors"
    save_file(g.random_state_dict("resnet18"), str(path))
    return path


def _logits(model):
    x = g.random_input().transpose(0, 2, 3, 1)
    return keras.ops.convert_to_numpy(model(x, training=False))


def _expected():
    return np.load(g.GOLDENS_PATH)["resnet18_logits"]


def test_convert_safetensors_to_weights_h5(r18_safetensors, tmp_path, capsys):
    dst = tmp_path / "resnet18.weights.h5"
    assert main(["convert", str(r18_safetensors), str(dst), "--model", "resnet18",
                 "--variant", "v1.5", "--num-classes", "10"]) == 0
    assert "wrote" in capsys.readouterr().out
    assert [p.name for p in tmp_path.iterdir()] == [dst.name]  # no temp file left
    model = keras_resnet.ResNet18((64, 64, 3), 10, variant="v1.5",
                                  classifier_activation=None, weights=str(dst))
    assert_close(_logits(model), _expected())


def test_convert_to_keras_file(r18_safetensors, tmp_path):
    dst = tmp_path / "resnet18.keras"
    assert main(["convert", str(r18_safetensors), str(dst), "--model", "resnet18",
                 "--variant", "v1.5", "--num-classes", "10", "--input-shape", "64", "64",
                 "3"]) == 0
    model = keras.saving.load_model(dst)
    assert model.input_shape == (None, 64, 64, 3)
    probs = keras.ops.convert_to_numpy(model(g.random_input().transpose(0, 2, 3, 1)))
    expected = keras.ops.convert_to_numpy(keras.activations.softmax(_expected()))
    np.testing.assert_allclose(probs, expected, rtol=1e-4, atol=1e-6)


def test_convert_headless_warns_nothing(r18_safetensors, tmp_path, capsys):
    dst = tmp_path / "backbone.weights.h5"
    assert main(["convert", str(r18_safetensors), str(dst), "--model", "resnet18",
                 "--variant", "v1.5", "--no-top"]) == 0
    assert "warning" not in capsys.readouterr().err
    assert dst.exists()


def test_convert_other_classes_reports_the_fresh_classifier(r18_safetensors, tmp_path,
                                                            capsys):
    dst = tmp_path / "r18.weights.h5"
    assert main(["convert", str(r18_safetensors), str(dst), "--model", "resnet18",
                 "--variant", "v1.5"]) == 0  # 1000 classes vs the file's 10
    err = capsys.readouterr().err
    assert "keras-resnet convert: warning:" in err and "10 classes, the model 1000" in err


# --- export -------------------------------------------------------------------

@pytest.mark.slow
def test_keras_export_to_saved_model_and_litert_matches_keras(tmp_path, rng):
    """Keras' own `model.export` on a zoo model. keras_resnet.export (BatchNormalization
    folded first) is tested in tests/test_deploy.py: ONNX for every layer kind, SavedModel
    and TFLite on basic blocks. The .keras round trip of every kind is in
    tests/test_every_model.py."""
    import tensorflow as tf
    model = keras_resnet.ResNet18((64, 64, 3), 10, variant="v1.5", classifier_activation=None)
    randomize_bn_statistics(model, rng)
    x = rng.uniform(-1, 1, (2, 64, 64, 3)).astype("float32")
    expected = keras.ops.convert_to_numpy(model(x))

    model.export(str(tmp_path / "saved_model"), verbose=False)
    reloaded = tf.saved_model.load(str(tmp_path / "saved_model"))  # keep it alive
    assert_close(reloaded.serve(x).numpy(), expected)

    tflite = tmp_path / "model.tflite"
    model.export(str(tflite), format="litert", verbose=False)
    assert_close(tflite_run(tflite, x)[0], expected)
