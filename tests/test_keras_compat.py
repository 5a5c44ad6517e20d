"""keras_compat: the Keras version check and the helpers over Keras internals."""

import os
import subprocess
import sys

import keras
import pytest

from keras_resnet import keras_compat


@pytest.mark.parametrize("version", ["3.15.0", "3.15.1", "3.15.12", "3.15.0.dev2026", "3.15"])
def test_version_check_accepts_the_pinned_series(version):
    keras_compat.check_keras_version(version)


@pytest.mark.parametrize("version", ["3.16.0", "3.14.9", "3.1.5", "3.150.0", "4.15.0", "2.15.0"])
def test_version_check_rejects_other_series_in_one_line(version):
    with pytest.raises(ImportError) as info:
        keras_compat.check_keras_version(version)
    message = str(info.value)
    assert "\n" not in message
    assert f"Keras {version} is installed" in message
    assert "Keras 3.15.x" in message  # the supported series
    assert "pip install 'keras==3.15.*'" in message  # what to do


def test_version_check_reads_the_installed_keras(monkeypatch):
    keras_compat.check_keras_version()  # the test environment's Keras is supported
    monkeypatch.setattr(keras, "__version__", "3.16.0")
    with pytest.raises(ImportError, match="Keras 3.16.0 is installed"):
        keras_compat.check_keras_version()


@pytest.mark.slow  # a subprocess importing TensorFlow
def test_using_keras_resnet_under_another_keras_fails_with_the_message():
    # `import keras_resnet` loads no framework; the check runs when code that needs
    # Keras internals (here fold_batchnorm's module) is first imported.
    code = ("import keras; keras.__version__ = '3.16.0'\n"
            "import keras_resnet\n"
            "try:\n    keras_resnet.fold_batchnorm\n"
            "except ImportError as e:\n    print('ImportError:', e)")
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = {**os.environ, "PYTHONPATH": repo + os.pathsep + os.environ.get("PYTHONPATH", ""),
           "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "ImportError: keras_resnet needs Keras 3.15.x" in done.stdout
    assert "Keras 3.16.0 is installed" in done.stdout


def test_pinned_series_matches_setup_cfg():
    assert keras_compat.KERAS_VERSION == "3.15"
    assert keras.__version__.startswith(keras_compat.KERAS_VERSION + ".")


def tiny_model():
    inputs = keras.Input((8, 8, 3), name="image")
    conv = keras.layers.Conv2D(4, 3, use_bias=False, name="conv")
    x = conv(inputs)
    x = keras.layers.BatchNormalization(name="bn")(x)
    shared = keras.layers.ReLU(name="relu")
    a = shared(x)
    b = shared(a)  # one layer called twice: two nodes
    outputs = keras.layers.Add(name="add")([a, b])
    return keras.Model(inputs, outputs, name="tiny")


def test_is_functional():
    model = tiny_model()
    assert keras_compat.is_functional(model)
    assert isinstance(model, keras_compat.Functional)
    sequential = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    assert not keras_compat.is_functional(sequential)

    class Subclassed(keras.Model):
        def call(self, x):
            return x

    assert not keras_compat.is_functional(Subclassed())
    assert not keras_compat.is_functional(keras.layers.Dense(2))


def test_model_nodes_and_producing_layer_walk_the_graph():
    model = tiny_model()
    nodes = keras_compat.model_nodes(model)
    called = sorted(node.operation.name for node in nodes)
    # The input layer, conv, bn, add once each; the shared ReLU twice.
    assert called == ["add", "bn", "conv", "image", "relu", "relu"]
    bn_node, = [node for node in nodes if node.operation.name == "bn"]
    assert keras_compat.producing_layer(bn_node.input_tensors[0]) is model.get_layer("conv")
    add_node, = [node for node in nodes if node.operation.name == "add"]
    assert [keras_compat.producing_layer(t).name for t in add_node.input_tensors] == [
        "relu", "relu"]
    assert keras_compat.producing_layer(model.outputs[0]) is model.get_layer("add")
    assert keras_compat.producing_layer(model.inputs[0]).name == "image"


def test_inbound_nodes_are_the_calls_of_a_layer():
    model = tiny_model()
    relu_calls = keras_compat.inbound_nodes(model.get_layer("relu"))
    assert len(relu_calls) == 2
    sources = [keras_compat.producing_layer(node.input_tensors[0]).name for node in relu_calls]
    assert sources == ["bn", "relu"]
    conv_call, = keras_compat.inbound_nodes(model.get_layer("conv"))
    assert keras_compat.producing_layer(conv_call.input_tensors[0]).name == "image"


def test_build_from_batch_then_fit_skips_its_own_build():
    import numpy as np

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    model.compile(optimizer="sgd", loss="mse")
    x, y = np.ones((8, 4), "float32"), np.zeros((8, 2), "float32")
    keras_compat.build_from_batch(model, (x, y))
    assert model.optimizer.built
    keras_compat.skip_build_in_fit(model)
    model.fit(x, y, epochs=1, verbose=0)
    assert int(model.optimizer.iterations.numpy()) == 1


def test_patch_multi_worker_reduce_is_idempotent_and_keeps_single_worker_reductions():
    import tensorflow as tf
    from keras.src.backend.tensorflow import trainer as tf_trainer  # to inspect the patch

    original = tf_trainer.reduce_per_replica
    try:
        keras_compat.patch_multi_worker_reduce()
        patched = tf_trainer.reduce_per_replica
        assert getattr(patched, "keras_resnet_patch", False)
        keras_compat.patch_multi_worker_reduce()
        assert tf_trainer.reduce_per_replica is patched  # not wrapped twice
        strategy = tf.distribute.get_strategy()  # no workers: the original reduction
        value = tf.constant(3.0)
        assert float(patched(value, strategy, "mean")) == 3.0
    finally:
        tf_trainer.reduce_per_replica = original


@pytest.mark.parametrize("loss_scale", [False, True])
def test_fit_keeps_live_weights_inside_the_block_only(loss_scale):
    import numpy as np

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    optimizer = keras.optimizers.SGD(0.1, use_ema=True, ema_momentum=0.9)
    if loss_scale:  # what `train` compiles under mixed_float16
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    model.compile(optimizer=optimizer, loss="mse")
    x, y = np.ones((8, 4), "float32"), np.full((8, 2), 5.0, "float32")
    inner = getattr(optimizer, "inner_optimizer", optimizer)

    def averages():
        return [v.numpy() for v in inner._model_variables_moving_average]  # noqa: SLF001

    with keras_compat.fit_keeps_live_weights(model.optimizer):
        model.fit(x, y, epochs=3, verbose=0)
    live = [v.numpy() for v in model.trainable_variables]
    assert max(np.abs(a - b).max() for a, b in zip(live, averages())) > 1e-3  # not copied
    assert "finalize_variable_values" not in vars(model.optimizer)  # the method is back
    model.fit(x, y, epochs=1, verbose=0)  # outside the block: fit ends with the average
    for a, b in zip(model.trainable_variables, averages()):
        np.testing.assert_array_equal(a.numpy(), b)


def test_serialize_as_stock_needs_a_subclass_of_a_public_keras_class():
    class NotASubclass(keras.layers.Layer):
        pass

    class OfAPrivateClass(keras_compat.Functional):
        pass

    for cls, stock in ((NotASubclass, keras.layers.Conv2D), (OfAPrivateClass, OfAPrivateClass)):
        with pytest.raises(ValueError, match="must subclass a public Keras class"):
            keras_compat.serialize_as_stock(cls, stock)


def test_serialize_as_stock_and_deserializing_as():
    class Faster(keras.layers.Dense):
        pass

    keras_compat.serialize_as_stock(Faster, keras.layers.Dense)
    assert Faster.__name__ == "Dense"
    config = keras.saving.serialize_keras_object(Faster(3, name="d"))
    assert (config["module"], config["class_name"], config["registered_name"]) == \
        ("keras.layers", "Dense", None)
    assert type(keras.saving.deserialize_keras_object(config)) is keras.layers.Dense
    with pytest.raises(RuntimeError, match="inside"):
        with keras_compat.deserializing_as({keras.layers.Dense: Faster}):
            assert type(keras.saving.deserialize_keras_object(config)) is Faster
            raise RuntimeError("inside")
    # the table is restored, also after an exception
    assert type(keras.saving.deserialize_keras_object(config)) is keras.layers.Dense
    assert type(keras.layers.deserialize(config)) is keras.layers.Dense
