"""Data sources (digits, CIFAR python format, image folders) and the tf.data pipeline."""

import os
import pickle

import numpy as np
import pytest

from fake_data import (PHOTO_MODES, photo, py2_pickle, save_photo, to_rows, write_cifar10,
                       write_cifar100, write_folder, write_photos)
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


# ----------------------------------------------------------------------------- photos

def test_folder_imagenet_layout(tmp_path):
    write_photos(tmp_path, classes=("b_dog", "a_cat"), train=3, val=2, corrupt=None)
    data = load_source(f"folder:{tmp_path}")
    assert data.class_names == ["a_cat", "b_dog"]
    assert len(data.train) == 6 and len(data.test) == 4  # val/ is the held-out split, whole
    assert all(f"{os.sep}val{os.sep}" in p for p in data.test.paths)
    for split in (data.train, data.test):
        for path, label in zip(split.paths, split.labels):
            assert os.path.basename(os.path.dirname(path)) == data.class_names[label]
    for path in (tmp_path / "val" / "b_dog").iterdir():  # val may lack a class ...
        path.unlink()
    (tmp_path / "val" / "b_dog").rmdir()
    assert load_source(f"folder:{tmp_path}").test.labels.tolist() == [0, 0]
    os.makedirs(tmp_path / "val" / "c_eel")  # ... but not have one train/ lacks
    with pytest.raises(ValueError, match="has classes that train/ lacks: c_eel"):
        load_source(f"folder:{tmp_path}")


def test_decoding_handles_every_mode(tmp_path):
    """Grey, CMYK, paletted, 16-bit, alpha: 3-channel RGB as Pillow sees it (16 bits scaled
    to 8, alpha dropped), and a JPEG cropped while decoding equals the crop of the whole."""
    import tensorflow as tf
    from PIL import Image

    from keras_resnet.image_files import decode_file

    rng = np.random.default_rng(0)
    pixels = photo(3, 0, rng)
    for mode, ext in PHOTO_MODES:
        path = str(tmp_path / f"{mode.replace(';', '')}.{ext}")
        save_photo(pixels, path, mode)
        got = decode_file(tf.constant(path)).numpy()
        with Image.open(path) as im:
            expected = np.asarray(im.convert("RGB")) if mode != "I;16" else \
                np.repeat(np.round(np.asarray(im) / 257.0)[..., None], 3, -1)
        assert got.shape == pixels.shape and got.dtype == np.uint8, mode
        diff = np.abs(got.astype(int) - expected)
        if ext == "jpg":  # libjpeg builds round their IDCT differently: a few levels at most
            assert diff.max() <= 8 and diff.mean() < 1, mode
        else:  # lossless; 16 -> 8 bits rounds either way
            assert diff.max() <= 1, mode
    contents = tf.io.read_file(str(tmp_path / "RGB.jpg"))
    window = tf.constant([5, 7, 20, 16])
    cropped = tf.image.decode_and_crop_jpeg(contents, window, channels=3,
                                            dct_method="INTEGER_ACCURATE").numpy()
    np.testing.assert_array_equal(cropped, decode_file(tf.constant(str(tmp_path / "RGB.jpg")))
                                  .numpy()[5:25, 7:23])


def test_random_resized_crop_windows():
    """torchvision's RandomResizedCrop: area 8-100% of the image, aspect ratio 3/4-4/3."""
    import tensorflow as tf

    from keras_resnet.data.photos import random_crop_window

    tf.random.set_seed(0)
    windows = np.array([random_crop_window(tf.constant([375, 500, 3])).numpy()
                        for _ in range(300)])
    top, left, h, w = windows.T
    area = h * w / (375 * 500)
    assert (top >= 0).all() and (left >= 0).all() and (top + h <= 375).all() \
        and (left + w <= 500).all()
    assert area.min() >= 0.08 - 0.01 and area.max() <= 1.0
    assert area.min() < 0.2 and area.max() > 0.8  # the whole range is used
    assert (w / h >= 0.75 - 0.02).all() and (w / h <= 4 / 3 + 0.02).all()


def test_eval_pipeline_keeps_the_aspect_ratio(tmp_path):
    """A 40x80 image, held out: shorter side to floor(16 / 0.875) = 18 (so 18x36), centre
    16x16 at rows 1-16, columns 10-25; not the squashed 80 -> 16 resize."""
    import tensorflow as tf

    from keras_resnet.data.pipeline import make_dataset, normalize

    write_photos(tmp_path, train=1, val=0, corrupt=None)
    rng = np.random.default_rng(1)
    wide = rng.integers(0, 256, size=(40, 80, 3), dtype=np.uint8)
    save_photo(wide, str(tmp_path / "val" / "cat" / "wide.png"), "RGB")
    data = load_source(f"folder:{tmp_path}")
    x, y = next(iter(make_dataset(data, "test", (16, 16), 4, training=False)))
    assert x.shape == (1, 16, 16, 3) and y.numpy().tolist() == [0]
    resized = tf.image.resize(wide.astype(np.float32), (18, 36), antialias=True)
    expected = normalize(resized[1:17, 10:26], data.mean, data.std).numpy()
    np.testing.assert_allclose(x[0].numpy(), expected, atol=1e-4)
    squashed = normalize(tf.image.resize(wide.astype(np.float32), (16, 16), antialias=True),
                         data.mean, data.std).numpy()
    assert np.abs(x[0].numpy() - squashed).mean() > 0.3


def test_unreadable_files_are_skipped_named_and_counted(tmp_path, capsys):
    from keras_resnet.data.photos import UnreadableFiles, stream_files
    from keras_resnet.image_files import decode_file

    paths, labels = [], []
    for i in range(150):
        paths.append(str(tmp_path / f"{i}.png"))
        save_photo(np.full((4, 6, 3), i, np.uint8), paths[-1], "RGB")
        labels.append(i)
    bad = str(tmp_path / "bad.jpg")
    (tmp_path / "bad.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated JPEG")
    unreadable = UnreadableFiles(151)
    ds = stream_files(paths[:75] + [bad] + paths[75:], labels[:75] + [999] + labels[75:],
                      decode_file, unreadable, shuffle=False)
    got = [(int(x[0, 0, 0]), int(y)) for x, y in ds]
    assert got == [(i, i) for i in range(150)]  # order kept, the bad file alone dropped
    assert list(unreadable.reasons) == [bad] and "JPEG" in unreadable.reasons[bad]
    err = capsys.readouterr().err
    assert f"skipped unreadable image {bad!r}" in err and "1 of 151" in err
    list(ds)  # a second epoch: counted once, named once
    assert len(unreadable.reasons) == 1 and bad not in capsys.readouterr().err

    # Two of 150 is more than 1%: the epoch stops with the message.
    unreadable = UnreadableFiles(150, "training image files")
    ds = stream_files(paths[:148] + [bad, str(tmp_path / "missing.png")], labels,
                      decode_file, unreadable, shuffle=True, seed=0)
    with pytest.raises(Exception, match=r"more than 1% of the training image files are "
                                        r"unreadable \(2 of 150\)"):
        list(ds)
    assert unreadable.too_many


def test_file_list_is_sharded_per_worker(tmp_path):
    from keras_resnet.data.photos import UnreadableFiles, stream_files
    from keras_resnet.image_files import decode_file

    paths = []
    for i in range(10):
        paths.append(str(tmp_path / f"{i}.png"))
        save_photo(np.full((2, 2, 3), i, np.uint8), paths[-1], "RGB")
    shares = [sorted(int(y) for _, y in stream_files(paths, np.arange(10), decode_file,
                                                     UnreadableFiles(10), shuffle=True,
                                                     shard=(3, k)))
              for k in range(3)]
    assert shares == [[0, 3, 6, 9], [1, 4, 7], [2, 5, 8]]


def test_worker_shard_reads_the_cluster():
    from types import SimpleNamespace

    from keras_resnet.training.distribute import worker_shard

    def strategy(workers, task_type, index, chief=False):
        spec = {"worker": ["w"] * workers, **({"chief": ["c"]} if chief else {})}
        resolver = SimpleNamespace(task_type=task_type, task_id=index,
                                   cluster_spec=lambda: SimpleNamespace(as_dict=lambda: spec))
        return SimpleNamespace(extended=SimpleNamespace(_num_workers=workers + chief),
                               cluster_resolver=resolver)

    assert worker_shard(SimpleNamespace(extended=SimpleNamespace())) == (1, 0)
    assert worker_shard(strategy(2, "worker", 1)) == (2, 1)
    assert worker_shard(strategy(2, "worker", 1, chief=True)) == (3, 2)
    assert worker_shard(strategy(2, "chief", 0, chief=True)) == (3, 0)


@pytest.mark.slow  # builds RandAugment's and TrivialAugment's graphs (~10 s)
def test_photo_training_pipeline_augments(tmp_path):
    """Random-resized crop + flip at the model's size; every option on: shapes, and one-hot
    labels, mixed ones summing to 1 (the held-out split one-hot, not mixed)."""
    from keras_resnet.data.augment import Augmentation
    from keras_resnet.data.pipeline import make_dataset

    write_photos(tmp_path, train=6, val=1, corrupt=None)
    data = load_source(f"folder:{tmp_path}")
    plain = make_dataset(data, "train", (24, 24), 12, training=True)
    x, y = next(iter(plain))
    assert x.shape == (12, 24, 24, 3) and y.dtype == "int32"
    for image, label in zip(x.numpy(), y.numpy()):  # the class colour survives cropping
        rgb = image * np.array(data.std) + np.array(data.mean)
        grey = np.abs(rgb - rgb.mean(axis=-1, keepdims=True)).max() < 0.05  # a grey file
        assert grey or rgb.mean(axis=(0, 1)).argmax() == label
    for policy, mix in (("trivialaugment", dict(mixup=0.2)), ("randaugment", dict(cutmix=1.0)),
                        (None, dict(mixup=0.2, cutmix=1.0))):
        extra = Augmentation(policy, random_erasing=0.5, **mix)
        x, y = next(iter(make_dataset(data, "train", (24, 24), 12, training=True,
                                      extra=extra)))
        assert x.shape == (12, 24, 24, 3) and y.shape == (12, 2) and y.dtype == "float32"
        np.testing.assert_allclose(y.numpy().sum(axis=1), 1, atol=1e-5)
        assert ((y.numpy() > 0.01) & (y.numpy() < 0.99)).any(), policy  # some labels mixed
        assert np.isfinite(x.numpy()).all()
        val = next(iter(make_dataset(data, "test", (24, 24), 4, training=False, extra=extra)))
        assert val[1].numpy().tolist() == [[1, 0], [0, 1]]  # one-hot, not mixed


@pytest.mark.parametrize("policy", ["trivial_augment_wide", "rand_augment"])
def test_auto_augment_draws_operations_per_image(policy):
    import tensorflow as tf

    from keras_resnet.data import augment

    tf.random.set_seed(0)
    image = tf.constant(np.random.default_rng(0).integers(0, 256, (16, 16, 3)), tf.float32)
    apply = getattr(augment, policy)(seed=None)
    outs = [apply(image).numpy() for _ in range(30)]
    assert all(o.shape == (16, 16, 3) and o.min() >= 0 and o.max() <= 255 for o in outs)
    assert len({o.tobytes() for o in outs}) >= 8  # many operations and strengths


def test_augmentation_arguments_are_checked():
    from keras_resnet.data.augment import check_augmentation

    assert check_augmentation(None, 0, 0.2, 1).one_hot
    assert not check_augmentation("randaugment", 0.25, 0, 0).one_hot
    for args, match in ((("autoaugment", 0, 0, 0), "`auto_augment` must be one of randaugment, "
                                                   "trivialaugment"),
                        ((None, 1.5, 0, 0), r"`random_erasing` must be a probability in \[0, 1\]"),
                        ((None, 0, -1, 0), "`mixup` must be the alpha"),
                        ((None, 0, 0, 2.0), r"`cutmix` must be .* in \[0, 1\]"),
                        ((None, 0, True, 0), "`mixup`")):
        with pytest.raises(ValueError, match=match):
            check_augmentation(*args)
