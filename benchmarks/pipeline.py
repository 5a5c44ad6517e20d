"""The input pipeline's own rate: photos decoded and random-resized-cropped to 224x224.

    .venv/bin/python -m benchmarks.pipeline [--threads N] [--repeats R]

Writes `IMAGES` synthetic photo-like 500x375 JPEGs (ImageNet's typical size;
smooth colour fields plus grain, quality 90, about 60 KB each) to a temporary
`folder:` directory and times the training pipeline `keras-resnet train` uses
on it (`keras_resnet.data.pipeline.make_dataset`, training=True: read, decode
with the JPEG crop window, random-resized crop to 224, flip, normalise, batch
32), tf.data's thread pool limited to `threads`. Each round is a full pass
over the files from a fresh iterator; the figure is the median of the rounds.
`benchmarks.run` puts it next to ResNet50's rate: the pipeline must outrun
training (whose rate is below the inference rate it is compared with).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

IMAGES = 256
SIZE = (500, 375)  # width, height
BATCH = 32


def write_jpegs(directory: str, count: int = IMAGES, seed: int = 0) -> None:
    """`count` photo-like JPEGs in two class folders under `directory`."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    for i in range(count):
        folder = os.path.join(directory, f"class{i % 2}")
        os.makedirs(folder, exist_ok=True)
        coarse = rng.integers(0, 256, size=(6, 8, 3), dtype=np.uint8)
        smooth = np.asarray(Image.fromarray(coarse).resize(SIZE, Image.BICUBIC), np.float32)
        grain = rng.normal(0, 8, size=smooth.shape)
        pixels = np.clip(smooth + grain, 0, 255).astype(np.uint8)
        Image.fromarray(pixels).save(os.path.join(folder, f"{i}.jpg"), quality=90)


def measure(threads: int, repeats: int = 5, images: int = IMAGES) -> dict:
    """images/s of the photo training pipeline at 224x224 on `threads` threads."""
    import tensorflow as tf

    from keras_resnet.data import load_source
    from keras_resnet.data.pipeline import make_dataset

    with tempfile.TemporaryDirectory(prefix="keras-resnet-pipeline-") as directory:
        write_jpegs(directory, images)
        data = load_source(f"folder:{directory}")
        kb = sum(os.path.getsize(p) for p in data.train.paths) / len(data.train) / 1024
        options = tf.data.Options()
        options.threading.private_threadpool_size = threads
        ds = make_dataset(data, "train", (224, 224), BATCH, training=True).with_options(options)
        for _ in ds:  # warm-up pass: tracing, file cache
            pass
        runs = []
        for _ in range(repeats):
            start, seen = time.perf_counter(), 0
            for x, _ in ds:
                seen += int(x.shape[0])
            runs.append(seen / (time.perf_counter() - start))
    return dict(label=f"JPEG decode + random-resized crop to 224 + flip, batch {BATCH} "
                      f"({SIZE[0]}x{SIZE[1]} JPEGs, {kb:.0f} KB)",
                threads=threads, images=len(data.train), img_s=statistics.median(runs),
                img_s_runs=runs)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    r = measure(args.threads, args.repeats)
    print(f"{r['label']}: {r['img_s']:.0f} img/s on {r['threads']} threads "
          f"(rounds: {', '.join(f'{v:.0f}' for v in r['img_s_runs'])})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
