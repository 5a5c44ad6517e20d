"""A run's settings as a frozen dataclass (`RunSettings`), and run.json as its record
(`RunRecord`): the keys on disk, the round trip, and the errors for a foreign file."""

import dataclasses
import json

import pytest

from keras_resnet.training import train
from keras_resnet.training.settings import (RunRecord, RunSettings, read_run_record,
                                            resolve_settings)

# run.json's keys, as every keras_resnet since the augmentation options wrote them.
RUN_JSON_KEYS = [
    "auto_augment", "batch_size", "class_names", "cutmix", "data", "epochs", "eval_crop",
    "image_size", "mean", "mixup", "model", "num_test", "num_train", "precise_bn", "precision",
    "random_erasing", "recipe", "remat", "seed", "std", "steps_per_epoch", "weights"]


def _record(**changes):
    settings = RunSettings(model="resnet20", data="digits", epochs=3, batch_size=32,
                           weights=None, recipe="paper-cifar", precision="float32",
                           image_size=16, steps_per_epoch=None, seed=0, auto_augment=None,
                           random_erasing=0.0, mixup=0.2, cutmix=0.0, jit=True)
    return RunRecord(dataclasses.replace(settings, **changes), tuple("0123456789"),
                     (0.5, 0.5, 0.5), (0.25, 0.25, 0.25), 1437, 360,
                     {"crop_pct": 0.875, "interpolation": "bilinear"})


def _common(tmp_path, **changes):
    return {**dict(out=str(tmp_path / "o"), epochs=1, batch_size=None, weights=None,
                   recipe=None, precision=None, jit=False, strategy="auto", resume=False,
                   image_size=None, steps_per_epoch=None, seed=0), **changes}


def test_settings_are_frozen_and_typed(tmp_path):
    s = resolve_settings("ResNet20", "digits", **_common(tmp_path))
    assert isinstance(s, RunSettings)
    assert (s.model, s.recipe, s.epochs, s.batch_size, s.image_size, s.precision, s.jit) == (
        "resnet20", "paper-cifar", 1, 128, 32, "float32", False)
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.epochs = 2


def test_run_json_keys_and_round_trip():
    record = _record()
    obj = json.loads(json.dumps(record.to_json()))  # as written and read back
    assert sorted(obj) == RUN_JSON_KEYS  # jit is chosen again by every invocation
    back = RunRecord.from_json(obj, jit=False)
    assert back == record and back.settings.jit is False  # jit takes no part in equality
    assert back.class_names == tuple("0123456789") and back.mean == (0.5, 0.5, 0.5)
    del obj["precise_bn"]  # a run.json from before the setting: automatic
    assert RunRecord.from_json(obj).settings.precise_bn is None


@pytest.mark.parametrize("change, message", [
    (lambda o: o.pop("cutmix"), r"missing cutmix\)"),
    (lambda o: o.update(dropout=0.1), r"unknown dropout\)"),
    (lambda o: (o.pop("seed"), o.pop("mean"), o.update(zz=1, aa=2)),
     r"missing seed, mean; unknown aa, zz\)"),
    (lambda o: o.update(epochs="3"), "epochs must be an integer. Received: epochs='3'"),
    (lambda o: o.update(epochs=True), "epochs must be an integer"),
    (lambda o: o.update(weights=5), "weights must be a string or null"),
    (lambda o: o.update(mixup=None), "mixup must be a number. Received: mixup=None"),
    (lambda o: o.update(class_names=[0, 1]), "class_names must be a list of strings"),
    (lambda o: o.update(mean="0.5"), "mean must be a list of numbers"),
])
def test_a_foreign_run_json_is_a_value_error_naming_the_keys(change, message):
    obj = _record().to_json()
    change(obj)
    with pytest.raises(ValueError, match=message):
        RunRecord.from_json(obj, "run.json 'x/run.json'")


def test_int_for_a_float_setting_is_fine():
    obj = {**_record().to_json(), "mixup": 1, "random_erasing": 0}
    assert RunRecord.from_json(obj).settings.mixup == 1


def test_resume_of_a_foreign_run_json_names_the_file(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "run.json").write_text(json.dumps({"model": "resnet20", "lr": 0.1}))
    with pytest.raises(ValueError, match=r"run.json of the run to resume '.*run/run.json' is "
                                         r"not a run.json this keras_resnet writes \(missing "):
        train(None, None, out=str(out), resume=True, verbose=0)
    (out / "run.json").write_text("[1, 2]")
    with pytest.raises(ValueError, match="must hold a JSON object, not list"):
        read_run_record(str(out))


def test_resume_reads_the_settings_back(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "run.json").write_text(json.dumps(_record().to_json()))
    s = resolve_settings(None, None, **_common(tmp_path, out=str(out), resume=True, epochs=None,
                                               jit=None))
    assert s == _record().settings and s.jit is None  # this invocation's jit
    with pytest.raises(ValueError, match="mixup was 0.2, not 0.5"):
        resolve_settings(None, None, **_common(tmp_path, out=str(out), resume=True,
                                               epochs=None, mixup=0.5))
