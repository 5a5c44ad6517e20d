"""Data sources (digits, CIFAR python format, image folders) and the tf.data pipeline."""

import os
import pickle

import numpy as np
import pytest

from fake_data import py2_pickle, to_rows, write_cifar10, write_cifar100, write_folder
from keras_resnet.data import load_source, parse_source
from keras_resnet.data.cifar import SafeUnpickler, load_cifar, safe_load


# ----------------------------------------------------------------------------- SOURCE

def test_parse_source():
    assert parse_source("digits") == ("digits", None)
    assert parse_source("cifar10:/data/c") == ("cifar10", "/data/c")
    assert parse_source("cifar100:rel/dir") == ("cifar100", "rel/dir")
    assert parse_source("folder:/imgs") == ("folder", "/imgs")
    assert parse_source("folder:C:/imgs") == ("folder", "C:/imgs")  # the first colon splits
    for source in ("", "mnist", "digits:/x", "cifar10", "cifar10:", "folder", "imagenet:/x",
                   None):
        with pytest.raises(ValueError, match="data"):
            parse_source(source)


# ----------------------------------------------------------------------------- digits

def test_digits_fixed_stratified_split():
    a, b = load_source("digits"), load_source("digits")
    assert (len(a.train), len(a.test)) == (1437, 360)  # all 1,797 real images
    np.testing.assert_array_equal(a.test.labels, b.test.labels)
    np.testing.assert_array_equal(a.test.images, b.test.images)
    assert a.train.images.shape[1:] == (8, 8, 3) and a.train.images.dtype == np.uint8
    assert a.train.images.max() == 255 and a.train.images.min() == 0
    np.testing.assert_array_equal(a.train.images[..., 0], a.train.images[..., 2])  # grey
    counts = np.bincount(a.test.labels, minlength=10)
    assert counts.min() >= 35 and counts.max() <= 37  # stratified: ~36 per digit
    assert a.class_names == [str(i) for i in range(10)] and not a.hflip


# ----------------------------------------------------------------------------- CIFAR

def test_cifar10_official_layout(tmp_path):
    directory, images, labels = write_cifar10(tmp_path)
    for where in (tmp_path, directory):  # the parent or the official directory itself
        data = load_source(f"cifar10:{where}")
        np.testing.assert_array_equal(data.train.images, images)  # R, G, B planes -> HWC
        np.testing.assert_array_equal(data.train.labels, labels)
        assert len(data.test) == 10 and data.class_names[0] == "airplane"
        assert data.native_size == (32, 32) and data.hflip
    mean = images.reshape(-1, 3).mean(axis=0) / 255
    np.testing.assert_allclose(data.mean, mean, rtol=1e-6)


def test_cifar100_fine_labels(tmp_path):
    write_cifar100(tmp_path)
    data = load_source(f"cifar100:{tmp_path}")
    assert data.num_classes == 100 and data.class_names[7] == "c7"
    np.testing.assert_array_equal(data.train.labels, [(7 * j) % 100 for j in range(12)])


def test_python3_pickles_load_too(tmp_path):
    # Re-packed files written by Python 3 (bytes as _codecs.encode, numpy._core names).
    images = np.arange(2 * 3072, dtype=np.uint8).reshape(2, 3072)
    for protocol in (2, 4, 5):
        path = tmp_path / f"p{protocol}"
        path.write_bytes(pickle.dumps({b"data": images, b"labels": [1, 2]}, protocol=protocol))
        loaded = safe_load(str(path))
        np.testing.assert_array_equal(loaded[b"data"], images)


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_malicious_pickle_refused_without_running(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "data_batch_1"
    path.write_bytes(pickle.dumps({b"data": _Evil(marker)}, protocol=2))
    with pytest.raises(ValueError, match=r"refusing to load (posix|os|nt)\.system"):
        safe_load(str(path))
    assert not marker.exists()
    # The control: the stock unpickler would have run it.
    pickle.loads(path.read_bytes())
    assert marker.exists()


@pytest.mark.parametrize("payload, match", [
    (pickle.dumps({b"data": eval}, protocol=2), r"refusing to load (__builtin__|builtins)\.eval"),
    (pickle.dumps({b"data": {1, 2}}, protocol=2), r"refusing to load (__builtin__|builtins)\.set"),
    (pickle.dumps(np.array([object()], dtype=object), protocol=2), "object arrays"),
    (pickle.dumps(np.ma.masked_array([1, 2]), protocol=2), "refusing to load numpy.ma"),
    (pickle.dumps(np.rec.array([(1,)], dtype=[("a", "u1")]), protocol=2),
     "refusing to load numpy.*recarray"),
])
def test_foreign_pickles_refused(tmp_path, payload, match):
    path = tmp_path / "f"
    path.write_bytes(payload)
    with pytest.raises(ValueError, match=match):
        safe_load(str(path))


def test_unpickler_allows_only_the_format():
    assert set(SafeUnpickler.ALLOWED) == {
        ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.numeric", "_frombuffer"),
        ("numpy._core.numeric", "_frombuffer"), ("_codecs", "encode")}


def _corrupt(directory, name, content: bytes):
    with open(os.path.join(directory, name), "wb") as f:
        f.write(content)


def test_cifar_bad_inputs(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        load_cifar("cifar10", str(tmp_path / "nope"))
    with pytest.raises(ValueError, match="missing data_batch_1"):
        load_cifar("cifar10", str(tmp_path))

    directory, _, _ = write_cifar10(tmp_path)
    good = open(os.path.join(directory, "data_batch_2"), "rb").read()
    _corrupt(directory, "data_batch_2", good[: len(good) // 2])
    with pytest.raises(ValueError, match="data_batch_2 is not a valid CIFAR pickle .truncated"):
        load_cifar("cifar10", str(tmp_path))

    _corrupt(directory, "data_batch_2", b"\x89PNG\r\n\x1a\n not a pickle")
    with pytest.raises(ValueError, match="data_batch_2"):
        load_cifar("cifar10", str(tmp_path))

    rows = to_rows(np.zeros((2, 32, 32, 3), np.uint8))
    _corrupt(directory, "data_batch_2", py2_pickle({"data": rows, "labels": [3, 10]}))
    with pytest.raises(ValueError, match="label 10 at index 1 is out of range; expected 0..9"):
        load_cifar("cifar10", str(tmp_path))

    _corrupt(directory, "data_batch_2", py2_pickle({"data": rows, "labels": [3]}))
    with pytest.raises(ValueError, match="one label per image"):
        load_cifar("cifar10", str(tmp_path))

    _corrupt(directory, "data_batch_2", py2_pickle({"data": rows[:, :100], "labels": [1, 2]}))
    with pytest.raises(ValueError, match=r"shape \(N, 3072\)"):
        load_cifar("cifar10", str(tmp_path))

    _corrupt(directory, "data_batch_2", py2_pickle(["not", "a", "dict"]))
    with pytest.raises(ValueError, match="expected a dict"):
        load_cifar("cifar10", str(tmp_path))


# ----------------------------------------------------------------------------- folder

def test_folder_split_is_stratified_and_fixed(tmp_path):
    write_folder(tmp_path, classes=("b_dog", "a_cat"), per_class=10)
    data = load_source(f"folder:{tmp_path}")
    assert data.class_names == ["a_cat", "b_dog"]  # sorted, as image_dataset_from_directory
    assert np.bincount(data.test.labels).tolist() == [2, 2]
    assert np.bincount(data.train.labels).tolist() == [8, 8]
    assert not set(data.train.paths) & set(data.test.paths)
    again = load_source(f"folder:{tmp_path}")
    assert again.test.paths == data.test.paths
    for path, label in zip(data.train.paths, data.train.labels):
        assert os.path.basename(os.path.dirname(path)) == data.class_names[label]


def test_folder_bad_inputs(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        load_source(f"folder:{tmp_path / 'missing'}")
    with pytest.raises(ValueError, match="at least 2; found 0"):
        load_source(f"folder:{tmp_path}")
    write_folder(tmp_path)
    os.makedirs(tmp_path / "empty_class")
    with pytest.raises(ValueError, match="empty_class.* has no images"):
        load_source(f"folder:{tmp_path}")
    os.rmdir(tmp_path / "empty_class")
    # Nothing is decoded up front: a broken file is listed (and skipped while training).
    (tmp_path / "dog" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nbroken")
    data = load_source(f"folder:{tmp_path}")
    assert str(tmp_path / "dog" / "broken.png") in data.train.paths + data.test.paths


# ----------------------------------------------------------------------------- pipeline

def test_pipeline_normalises_and_keeps_labels():
    from keras_resnet.data.pipeline import make_dataset

    data = load_source("digits")
    x, y = next(iter(make_dataset(data, "train", (8, 8), 2000, training=False)))
    assert x.shape == (1437, 8, 8, 3) and x.dtype == "float32"
    np.testing.assert_array_equal(y.numpy(), data.train.labels)  # order kept without training
    x = x.numpy()
    np.testing.assert_allclose(x.mean(axis=(0, 1, 2)), 0, atol=1e-4)
    np.testing.assert_allclose(x.std(axis=(0, 1, 2)), 1, atol=1e-3)
    big = next(iter(make_dataset(data, "train", (32, 32), 2000, training=False)))[0].numpy()
    assert big.shape == (1437, 32, 32, 3)
    np.testing.assert_allclose(big.mean(), 0, atol=0.05)  # bilinear upscaling keeps the mean


def test_pipeline_shuffles_each_epoch():
    from keras_resnet.data.pipeline import make_dataset

    data = load_source("digits")
    ds = make_dataset(data, "train", (8, 8), 2000, training=True, augment_images=False)
    first = next(iter(ds))[1].numpy()
    second = next(iter(ds))[1].numpy()
    assert sorted(first) == sorted(data.train.labels) and not np.array_equal(first, second)


def test_paper_augmentation_is_a_padded_crop_and_flip():
    import tensorflow as tf

    from keras_resnet.data.pipeline import augment

    tf.random.set_seed(1)
    image = np.random.default_rng(0).integers(1, 256, size=(32, 32, 3), dtype=np.uint8)
    padded = np.pad(image, ((4, 4), (4, 4), (0, 0)))
    shifts, flips = set(), 0
    for _ in range(40):
        out = augment(tf.constant(image), hflip=True).numpy()
        assert out.shape == (32, 32, 3)
        matches = [(dy, dx, flip) for dy in range(9) for dx in range(9) for flip in (0, 1)
                   if np.array_equal(out[:, ::-1] if flip else out,
                                     padded[dy:dy + 32, dx:dx + 32])]
        assert matches, "not a 4-pixel padded crop (optionally flipped) of the input"
        shifts.add(matches[0][:2])
        flips += matches[0][2]
    assert len(shifts) > 10 and 5 < flips < 35
    no_flip = [augment(tf.constant(image), hflip=False).numpy() for _ in range(10)]
    assert all(any(np.array_equal(o, padded[dy:dy + 32, dx:dx + 32])
                   for dy in range(9) for dx in range(9)) for o in no_flip)


def test_folder_pipeline_decodes_and_resizes(tmp_path):
    from keras_resnet.data.pipeline import make_dataset

    write_folder(tmp_path, per_class=4, size=(20, 24))
    data = load_source(f"folder:{tmp_path}")
    x, y = next(iter(make_dataset(data, "train", (16, 16), 8, training=True)))
    assert x.shape == (6, 16, 16, 3)
    # class c is saturated in channel c: the normalised channel c is the brightest
    x = x.numpy()
    for image, label in zip(x, y.numpy()):
        means = image.mean(axis=(0, 1)) * np.array(data.std) + np.array(data.mean)
        assert means.argmax() == label
