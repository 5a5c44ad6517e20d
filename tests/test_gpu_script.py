"""benchmarks/gpu.py: its dry mode on the CPU (CI has no GPU), and its GPU-path checks."""

import json

import keras
import pytest

from benchmarks import gpu


@pytest.mark.slow  # builds and times ResNet50 twice at 32x32
def test_dry_mode_builds_and_times_on_the_cpu(tmp_path, capsys):
    out = tmp_path / "gpu.json"
    assert gpu.main(["--dry", "--no-torch", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "2,375 img/s" in printed and "torch: skipped (--no-torch)" in printed
    result = json.loads(out.read_text())
    assert result["dry"] is True and result["reference_img_s"] == gpu.NVIDIA_A100_IMG_S
    assert "isa" in json.dumps(result["machine"]).lower()
    tasks = {(r["task"], r["precision"]) for r in result["rows"]}
    assert tasks == {("train", "float32"), ("train", "mixed_float16"),
                     ("infer", "mixed_float16")}
    assert all(r["img_s"] > 0 for r in result["rows"])


def test_without_a_gpu_it_points_to_the_dry_mode(capsys):
    assert gpu.main(["--no-torch"]) == 2
    assert "--dry" in capsys.readouterr().err


def test_gpu_path_check_names_an_epsilon_cudnn_refuses(monkeypatch):
    from keras_resnet import layers
    monkeypatch.setattr(layers, "gpu_visible", lambda: True)
    inputs = keras.Input((8, 8, 3))
    x = layers.Conv2D(4, 3, name="conv")(inputs)
    x = layers.FusedBatchNormalization(epsilon=1e-6, name="tiny_eps_bn")(x)
    problems = gpu.check_gpu_paths(keras.Model(inputs, x))
    assert problems == ["tiny_eps_bn: epsilon 1e-06 < cuDNN's 1e-05"]
    ok = keras.Model(inputs, layers.FusedBatchNormalization(name="bn")(
        layers.Conv2D(4, 3, name="conv2")(inputs)))
    assert gpu.check_gpu_paths(ok) == []
