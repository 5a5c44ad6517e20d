"""The `keras-resnet` command: a thin argparse layer over the library.

Every failure the user can fix (unknown model, bad shape, ...) prints one line
and exits with code 2; a training run whose directory cannot be written
(`RunWriteError`) exits with 73 (sysexits.h EX_CANTCREAT). Heavy imports happen
inside the subcommand that needs them: `--help` and `list` never load TensorFlow.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import sys
import threading
from typing import Iterator, Optional, Sequence

EXIT_USAGE = 2
EXIT_CANT_WRITE = 73  # sysexits.h EX_CANTCREAT: `train`'s run directory cannot be written

# TensorFlow's C++ start-up lines (absl's "I0000 00:00:... port.cc:153] oneDNN
# ...", CUDA probing, CPU features) are not the CLI's output. TF_CPP_MIN_LOG_LEVEL
# does not silence the ones logged before absl is initialised, so the CLI drops
# them from stderr; KERAS_RESNET_TF_LOGS=1 keeps them.
_TF_LOG_LINE = re.compile(r"^(?:[IWEF]\d{4} [\d:.]+ +\d+ [\w.]+:\d+\] |"
                          r"WARNING: All log messages before absl::InitializeLog|"
                          r"To enable the following instructions: .* rebuild TensorFlow)")


class UsageError(Exception):
    """A problem the user can fix; printed as one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    """argparse, with its errors as one line (`keras-resnet SUB: error: ...`)
    like every other error of the CLI, instead of a usage block first."""

    def error(self, message):
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def _cmd_list(args) -> None:
    from keras_resnet.report import list_table, pretrained_markdown, pretrained_table
    if args.markdown and not args.pretrained:
        raise UsageError("--markdown goes with --pretrained (the pretrained table as Markdown)")
    if args.markdown:
        sys.stdout.write(pretrained_markdown())
    else:
        print(pretrained_table() if args.pretrained else list_table())


def _cmd_params(args) -> None:
    from keras_resnet.report import params_table
    print(params_table(args.models or None))


def _cmd_summary(args) -> None:
    from keras_resnet.builders import get_model
    kwargs = {}
    if args.input_shape:
        kwargs["input_shape"] = tuple(args.input_shape)
    if args.num_classes is not None:
        kwargs["num_classes"] = args.num_classes
    if args.variant:
        kwargs["variant"] = args.variant
    get_model(args.model, **kwargs).summary()


def _cmd_convert(args) -> None:
    import os
    import warnings

    from keras_resnet.atomic import atomic_path
    from keras_resnet.builders import get_model
    suffix = next((s for s in (".weights.h5", ".keras") if args.dst.endswith(s)), None)
    if suffix is None:
        raise UsageError(f"DST must end in .weights.h5 or .keras. Received: {args.dst!r}")
    directory = os.path.dirname(os.path.abspath(args.dst))
    if not os.path.isdir(directory):
        raise UsageError(f"the directory of DST does not exist: {directory!r}")
    kwargs = {"weights": args.src, "include_top": not args.no_top}
    for key in ("variant", "num_classes"):
        if getattr(args, key) is not None:
            kwargs[key] = getattr(args, key)
    if args.input_shape:
        kwargs["input_shape"] = tuple(args.input_shape)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        model = get_model(args.model, **kwargs)
    for w in caught:
        print(f"keras-resnet convert: warning: {w.message}", file=sys.stderr)
    with atomic_path(args.dst) as tmp:  # never leave a half-written DST
        model.save_weights(tmp) if suffix == ".weights.h5" else model.save(tmp)
    print(f"wrote {args.dst}: {model.name} ({model.count_params():,} parameters) "
          f"from {args.src}")


def _add_convert_parser(sub) -> None:
    p = sub.add_parser("convert", help="convert any accepted weights (imagenet, a pretrained "
                                       "tag, hf://ORG/REPO, .weights.h5, .keras, legacy .h5, "
                                       ".pth, .safetensors) to a Keras .weights.h5 or .keras "
                                       "file")
    p.add_argument("src", metavar="SRC", help="'imagenet', a pretrained tag of the model "
                                              "(a1_in1k, ...), hf://ORG/REPO or a weights file")
    p.add_argument("dst", metavar="DST", help="output file, ending in .weights.h5 or .keras")
    p.add_argument("--model", required=True, help="registry name, e.g. resnet50")
    p.add_argument("--variant", help="v1, v1.5 (torchvision/timm files) or v2; default the "
                                     "checkpoint's convention, else the model's")
    p.add_argument("--num-classes", type=int)
    p.add_argument("--no-top", action="store_true", help="without the classifier")
    p.add_argument("--input-shape", nargs=3, type=int, metavar=("H", "W", "C"))
    p.set_defaults(func=_cmd_convert)


def _cmd_export(args) -> None:
    from keras_resnet.data import SOURCES, parse_source
    from keras_resnet.deploy import check_arguments, export
    if args.calibration and not args.int8:
        raise UsageError("--calibration goes with --int8 (a float export needs no data)")
    if args.int8 and not args.calibration:
        raise UsageError("--int8 needs --calibration SOURCE (" + ", ".join(SOURCES) + "): "
                         "full-integer quantization sets its activation ranges on images "
                         "(dynamic-range quantization is not offered)")
    if args.resize and args.format != "savedmodel":
        raise UsageError(f"--resize cannot go into a {args.format} file: the evaluation resize "
                         "is antialiased (TensorFlow's ScaleAndTranslate), which TFLite's "
                         "builtin ops and ONNX (tf2onnx) lack; use --format savedmodel")
    if args.calibration:
        parse_source(args.calibration)
    quantize = "int8" if args.int8 else None
    check_arguments(args.out, args.format, fold_batchnorm=not args.no_fold, quantize=quantize,
                    calibration_given=bool(args.calibration),
                    calibration_images=args.calibration_images)
    from keras_resnet.training import calibration_data, load_model_file, load_run
    run_json = os.path.join(os.path.dirname(os.path.abspath(args.model_file)), "run.json")
    # --int8 needs the run.json (load_run names it when missing): it prepares calibration
    model, run = (load_run(args.model_file) if args.int8 or os.path.isfile(run_json)
                  else (load_model_file(args.model_file), None))
    options = _export_options(model, run)
    if args.resize and not options["images"]:
        raise UsageError("--resize needs a model that takes images: one built with "
                         "include_preprocessing=True, or a `train` run from pretrained weights")
    images = options.pop("images")
    calibration = None
    if args.int8:  # as the file takes them: raw images, or the run's preprocessing
        calibration = calibration_data(run, args.calibration, args.calibration_images,
                                       raw=images)
    export(model, args.out, args.format, fold_batchnorm=not args.no_fold, quantize=quantize,
           calibration=calibration, calibration_images=args.calibration_images,
           resize=args.resize, **options)
    what = (f"int8, calibrated on {len(calibration)} images "
            f"of {args.calibration}" if args.int8 else "float32")
    folded = "" if args.no_fold else ", BatchNormalization folded"
    takes = ("uint8 images" + (" of any size" if args.resize else "") + " -> probabilities"
             if images else "normalised input")
    print(f"wrote {args.out}: {model.name} as {args.format} ({what}{folded}; takes {takes}; "
          f"{_size_mb(args.out):.1f} MB)")


def _export_options(model, run) -> dict:
    """export's label_names, normalization and eval_transform for a model file and its
    run.json (None: a plain .keras file), and whether the file takes images."""
    from keras_resnet.deploy import includes_preprocessing
    from keras_resnet.pretrained import EvalTransform, InputNormalization

    built_in = includes_preprocessing(model)
    if run is None:
        return {"images": built_in}
    from keras_resnet.training.run import eval_crop
    crop = eval_crop(run.get("model"), run.get("weights"))
    options = {"label_names": run["class_names"],
               "eval_transform": EvalTransform(run["image_size"], **crop)}
    # A run from pretrained weights takes images: its normalisation goes into the file.
    if not built_in and run.get("weights"):
        options["normalization"] = InputNormalization("mean_std", tuple(run["mean"]),
                                                      tuple(run["std"]))
    options["images"] = built_in or "normalization" in options
    return options


def _size_mb(path: str) -> float:
    if os.path.isfile(path):
        return os.path.getsize(path) / 2**20
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(path)
               for f in files) / 2**20


def _add_export_parser(sub) -> None:
    from keras_resnet.deploy import DEFAULT_CALIBRATION_IMAGES, FORMATS
    p = sub.add_parser(
        "export", help="write a trained model as a SavedModel, TFLite or ONNX file, float32 "
                       "or int8",
        description="Write a Keras model file as a SavedModel directory, a .tflite or a .onnx "
                    "file, BatchNormalization folded into the convolutions. --int8 quantizes "
                    "weights and activations to 8-bit integers (tflite, onnx), calibrated on "
                    "--calibration-images images of SOURCE preprocessed as the run's run.json "
                    "says (MODEL_FILE must then be a `train` run's DIR/model.keras).")
    p.add_argument("model_file", metavar="MODEL_FILE", help="a .keras file, e.g. DIR/model.keras")
    p.add_argument("out", metavar="OUT", help="output: a new directory (savedmodel) or a file "
                                              "ending in .tflite / .onnx")
    p.add_argument("--format", required=True, choices=FORMATS)
    p.add_argument("--int8", action="store_true",
                   help="full-integer post-training quantization (needs --calibration)")
    p.add_argument("--calibration", metavar="SOURCE",
                   help="calibration images: digits, cifar10:DIR, cifar100:DIR or folder:DIR "
                        "(drawn at random from its training split)")
    p.add_argument("--calibration-images", type=int, default=DEFAULT_CALIBRATION_IMAGES,
                   metavar="N", help=f"how many (default {DEFAULT_CALIBRATION_IMAGES})")
    p.add_argument("--no-fold", action="store_true",
                   help="keep BatchNormalization layers as they are")
    p.add_argument("--resize", action="store_true",
                   help="savedmodel: the file also resizes and center-crops images of any "
                        "size as the checkpoint's evaluation transform does")
    p.set_defaults(func=_cmd_export)


def _cmd_push(args) -> None:
    import os

    from keras_resnet.sharing import push_to_hub, read_run, save_pretrained
    from keras_resnet.training import load_model_file
    model_file = os.path.join(args.run_dir, "model.keras")
    read_run(args.run_dir)  # a run directory, before the model loads
    if not os.path.isfile(model_file):
        raise UsageError(f"{args.run_dir!r} has no model.keras (the run has not finished)")
    model = load_model_file(model_file)
    if args.save_to:  # what would be uploaded, and nothing else
        save_pretrained(model, args.save_to, run_dir=args.run_dir, repo_id=args.repo_id)
        print(f"wrote {args.save_to}: {model.name} from {args.run_dir} (not uploaded)")
        return
    url = push_to_hub(model, args.repo_id, private=args.private, run_dir=args.run_dir)
    print(f"pushed {args.run_dir} to {url}")


def _add_push_parser(sub) -> None:
    p = sub.add_parser(
        "push", help="upload a training run to the Hugging Face Hub as timm writes a repo",
        description="Write a `train` run's model as timm's Hub directory (config.json with "
                    "its classes and preprocessing, model.safetensors in timm's layout, a "
                    "model card with the recipe and held-out metrics) and upload it with "
                    "huggingface_hub (HF_TOKEN or `hf auth login`; HF_ENDPOINT).")
    p.add_argument("run_dir", metavar="RUN_DIR", help="a `keras-resnet train` run directory")
    p.add_argument("repo_id", metavar="REPO_ID", help="ORG/NAME on the Hub (created if missing)")
    p.add_argument("--private", action="store_true", help="create the repo private")
    p.add_argument("--save-to", metavar="DIR",
                   help="write the directory to DIR (new) instead of uploading it")
    p.set_defaults(func=_cmd_push)


def _cmd_train(args) -> None:
    from keras_resnet.training import train
    args.out = args.out or _default_out(args)  # named by the resume command if it stops
    train(args.model, args.data, out=args.out, epochs=args.epochs,
          batch_size=args.batch_size, weights=args.weights, recipe=args.recipe,
          precision=args.precision, jit=args.jit, strategy=args.strategy, resume=args.resume,
          image_size=args.image_size, steps_per_epoch=args.steps_per_epoch, seed=args.seed,
          auto_augment=args.auto_augment, random_erasing=args.random_erasing, mixup=args.mixup,
          cutmix=args.cutmix, grace_seconds=args.grace_seconds,
          checkpoint_every=args.checkpoint_every, worker_timeout=args.worker_timeout,
          precise_bn=args.precise_bn, remat=args.remat)


def _stopped_training(args, e) -> int:
    """Print the one line for a `Preempted` or `WorkerLost` training run; its exit code."""
    from keras_resnet.training.preemption import EXIT_PREEMPTED, EXIT_WORKER_LOST, Preempted

    if getattr(args, "debug", False):
        import traceback
        traceback.print_exception(e.__cause__ or e, file=sys.stderr)
    resume = f"keras-resnet train --out {args.out} --resume"
    if args.strategy == "multi_worker":
        resume += " --strategy multi_worker"
    if isinstance(e, Preempted):
        again = " on every worker" if args.strategy == "multi_worker" else ""
        print(f"keras-resnet train: {e}; resume{again} with: {resume}", file=sys.stderr)
        return EXIT_PREEMPTED
    print(f"keras-resnet train: error: {e}; no checkpoint written; restart every worker "
          f"with: {resume}", file=sys.stderr)
    return EXIT_WORKER_LOST


def _default_out(args) -> str:
    if args.resume:
        raise UsageError("--resume needs --out DIR (the run to continue)")
    import time
    kind = (args.data or "data").split(":")[0]
    model = args.model
    if model is None and args.weights is not None:  # --weights NAME.TAG names the model
        from keras_resnet.pretrained import resolve
        model = resolve(args.weights).model
    return f"runs/{model or 'model'}-{kind}-{time.strftime('%Y%m%d-%H%M%S')}"


def _cmd_evaluate(args) -> None:
    if args.model:  # a pretrained checkpoint on an ImageNet validation copy
        from keras_resnet.imagenet_eval import DEFAULT_BATCH_SIZE, evaluate_checkpoint, report
        if args.confusion:
            raise UsageError("--confusion goes with --model-file (1000 classes make no "
                             "readable matrix)")
        print(report(evaluate_checkpoint(
            args.model, args.data, weights=args.weights, labels_file=args.labels,
            image_size=args.image_size, crop_pct=args.crop_pct, limit=args.limit,
            batch_size=DEFAULT_BATCH_SIZE if args.batch_size is None else args.batch_size)))
        return
    only_model = [f"--{k.replace('_', '-')}" for k in ("weights", "labels", "image_size",
                                                       "crop_pct", "limit")
                  if getattr(args, k) is not None]
    if only_model:
        verb = "goes" if len(only_model) == 1 else "go"
        raise UsageError(f"{', '.join(only_model)} {verb} with --model NAME.TAG (a pretrained "
                         f"checkpoint); a --model-file is evaluated as its run.json says")
    from keras_resnet.training import evaluate
    r = evaluate(args.model_file, args.data,
                 batch_size=128 if args.batch_size is None else args.batch_size,
                 confusion_png=args.confusion)
    print(f"loss {r['loss']:.4f}  top-1 {r['accuracy']:.4f}  top-5 {r['top5_accuracy']:.4f}  "
          f"({r['num_examples']} held-out images)")
    print(f"confusion matrix: {r['confusion_png']}")


def _cmd_predict(args) -> None:
    if args.model:  # a published checkpoint: its size, transform and normalisation
        from keras_resnet.classify import classify
        for path, top in classify(args.model, args.images, top=args.top_k):
            print(f"{path}: " + ", ".join(f"{label} {p:.4f}" for _, label, p in top))
        return
    from keras_resnet.exported import is_exported, predict_exported
    if is_exported(args.model_file):  # .onnx, .tflite, SavedModel: the file's class names
        for path, top in predict_exported(args.model_file, args.images, top_k=args.top_k):
            print(f"{path}: " + ", ".join(f"{label} {p:.4f}" for label, p in top))
        return
    from keras_resnet.training import predict
    for path, top in predict(args.model_file, args.images, top_k=args.top_k):
        print(f"{path}: " + ", ".join(f"{label} {p:.4f}" for label, p in top))


def _add_training_parsers(sub) -> None:
    """`train`, `evaluate` and `predict` (keras_resnet.training)."""
    from keras_resnet.training import PRECISIONS, RECIPES, STRATEGIES

    sources = "digits, cifar10:DIR, cifar100:DIR or folder:DIR"
    p = sub.add_parser("train", help="train a model on a dataset; writes DIR/model.keras, "
                                     "metrics.json, logs, checkpoints",
                       epilog="exit codes: 0 done; 2 bad input; 73 the run directory (or a "
                              "file in it) cannot be written; 75 stopped by SIGTERM/SIGINT "
                              "after a checkpoint (run again with --resume); 69 a worker of "
                              "a multi-worker run stopped answering (restart every worker "
                              "with --resume); 143 no step boundary within --grace-seconds "
                              "(--resume continues from the last complete checkpoint)")
    p.add_argument("--model", help="registry name, e.g. resnet20 (see `list`)")
    p.add_argument("--data", metavar="SOURCE", help=sources)
    p.add_argument("--epochs", type=int, help="default: the recipe's")
    p.add_argument("--batch-size", type=int, help="global batch size; default: the recipe's "
                                                  "(its learning rate scales linearly)")
    p.add_argument("--out", metavar="DIR",
                   help="run directory (new or empty); default runs/MODEL-SOURCE-TIME")
    p.add_argument("--weights", metavar="WEIGHTS",
                   help="initial weights (recipe finetune): a file, imagenet, a pretrained "
                        "tag (a1_in1k) or full name (resnet50.a1_in1k, --model then "
                        "optional), hf://ORG/REPO; a checkpoint brings its input "
                        "normalisation and evaluation crop")
    p.add_argument("--recipe", help=f"{' | '.join(RECIPES)} (default: paper-cifar, or "
                                    f"finetune with --weights)")
    p.add_argument("--precision", help=" | ".join(PRECISIONS) + " (default float32)")
    p.add_argument("--jit", action=argparse.BooleanOptionalAction, default=None,
                   help="XLA compilation (default: on with a GPU, off on CPU)")
    p.add_argument("--remat", nargs="?", const="block", choices=("block", "stage"),
                   help="gradient checkpointing: recompute each residual block (block, the "
                        "default) or stage in the backward pass; less memory, more time")
    p.add_argument("--strategy", default="auto", help=" | ".join(STRATEGIES) +
                   " (multi_worker reads TF_CONFIG)")
    p.add_argument("--resume", action="store_true",
                   help="continue --out from its last complete checkpoint")
    p.add_argument("--grace-seconds", type=float, default=30.0, metavar="S",
                   help="after SIGTERM/SIGINT: time to reach a step boundary, checkpoint and "
                        "exit with 75 (default 30)")
    p.add_argument("--checkpoint-every", type=int, metavar="N",
                   help="also checkpoint every N steps within an epoch (bounds what SIGKILL "
                        "loses)")
    p.add_argument("--worker-timeout", type=float, default=120.0, metavar="S",
                   help="multi_worker: a step waits at most S seconds for another worker, "
                        "then the run exits with 69 (default 120)")
    p.add_argument("--debug", action="store_true",
                   help="print TensorFlow's traceback when a worker is lost")
    p.add_argument("--image-size", type=int, help="square input size (default: the model's)")
    p.add_argument("--steps-per-epoch", type=int, help="batches per epoch (default: one pass)")
    p.add_argument("--precise-bn", action=argparse.BooleanOptionalAction, default=None,
                   help="re-estimate BatchNormalization's statistics on training batches "
                        "before each validation (default: on when an epoch has fewer than "
                        "100 steps, on one replica)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--auto-augment", metavar="POLICY", help="randaugment | trivialaugment | "
                   "none, for image folders (default: the recipe's)")
    p.add_argument("--random-erasing", type=float, metavar="P",
                   help="probability of erasing a random rectangle, for image folders "
                        "(default: the recipe's)")
    p.add_argument("--mixup", type=float, metavar="ALPHA",
                   help="mixup's Beta(alpha, alpha), 0 off (default: the recipe's)")
    p.add_argument("--cutmix", type=float, metavar="ALPHA",
                   help="cutmix's Beta(alpha, alpha), 0 off, at most 1 (default: the recipe's)")
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser(
        "evaluate", help="held-out loss, top-1, top-5 and a confusion matrix of a trained "
                         "run; or a pretrained checkpoint on your ImageNet validation copy",
        description="--model-file: a `train` run's model on the held-out split of SOURCE "
                    "(loss, top-1, top-5, confusion matrix). --model NAME.TAG: a pretrained "
                    "checkpoint on an ImageNet validation copy, --data folder:DIR (synset "
                    "folders n01440764/..., partial copies fine; or a flat folder with "
                    "LOC_val_solution.csv or val.txt), at the checkpoint's evaluation "
                    "transform; prints top-1/top-5 beside the published figures.")
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--model-file", metavar="FILE", help="DIR/model.keras")
    which.add_argument("--model", metavar="NAME.TAG",
                       help="a pretrained checkpoint, e.g. resnet50.a1_in1k (see `list "
                            "--pretrained`); or a registry name with --weights")
    p.add_argument("--data", required=True, metavar="SOURCE",
                   help=sources + " (with --model: folder:DIR, an ImageNet validation copy)")
    p.add_argument("--batch-size", type=int,
                   help="default 128 (--model-file), 32 (--model)")
    p.add_argument("--confusion", metavar="PNG",
                   help="confusion-matrix image (default: beside the model file)")
    p.add_argument("--weights", metavar="WEIGHTS",
                   help="with --model MODEL: a tag, hf://ORG/REPO or a weights file with an "
                        "ImageNet-1k classifier")
    p.add_argument("--labels", metavar="FILE",
                   help="with --model: LOC_val_solution.csv or val.txt (default: looked for "
                        "in DIR and its parent)")
    p.add_argument("--image-size", type=int, metavar="S",
                   help="with --model: override the checkpoint's test size")
    p.add_argument("--crop-pct", type=float, metavar="P",
                   help="with --model: override the checkpoint's center-crop fraction")
    p.add_argument("--limit", type=int, metavar="N",
                   help="with --model: a stratified subset of N images (fixed seed)")
    p.set_defaults(func=_cmd_evaluate)

    p = sub.add_parser("predict", help="top-k labels with probabilities for image files, "
                                       "from a trained run or a pretrained checkpoint")
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--model-file", metavar="FILE",
                       help="DIR/model.keras, or a file `export` wrote (.onnx, .tflite, "
                            "SavedModel directory)")
    which.add_argument("--model", metavar="NAME.TAG",
                       help="a pretrained checkpoint, e.g. resnet50.a1_in1k (see `list "
                            "--pretrained`): ImageNet classes, at its evaluation size and crop")
    p.add_argument("images", nargs="+", metavar="IMAGE")
    p.add_argument("--top-k", type=int, default=5)
    p.set_defaults(func=_cmd_predict)


def _cmd_plot(args) -> None:
    from keras_resnet.plotting import GraphvizNotFoundError, plot_registered
    from keras_resnet.registry import list_models
    if bool(args.models) == bool(args.all):
        raise UsageError("give one or more MODEL names or --all (not both)")
    if args.level == "both" and args.format:
        raise UsageError("--level both writes a block-level PNG and a layer-level SVG per "
                         "model; drop --format or pick one --level")
    kwargs = {}
    if args.input_shape:
        kwargs["input_shape"] = tuple(args.input_shape)
    if args.variant:
        kwargs["variant"] = args.variant
    levels = ("block", "layer") if args.level == "both" else (args.level,)
    try:
        paths = plot_registered(list_models() if args.all else args.models, args.out,
                                levels=levels, format=args.format, manifest=args.all, **kwargs)
    except GraphvizNotFoundError as e:
        raise UsageError(str(e)) from e
    print("\n".join(paths))


def _add_plot_parser(sub) -> None:
    p = sub.add_parser(
        "plot", help="draw architecture diagrams, one file per model",
        description="Draw architecture diagrams, one file per model, named after it "
                    "(resnet50.png). --level block (default) draws one node per stem, residual "
                    "block and head and fits a readable PNG for every depth; --level layer "
                    "draws every layer and is best as SVG; --level both writes NAME.png "
                    "(block) and NAME.svg (layer). With --all, DIR/MANIFEST.json records "
                    "what was drawn so the tests notice stale diagrams.")
    p.add_argument("models", nargs="*", metavar="MODEL", help="registry names")
    p.add_argument("--all", action="store_true", help="every registered model")
    p.add_argument("--out", default=".", metavar="DIR", help="output directory (default: .)")
    p.add_argument("--format", choices=("png", "svg", "pdf"),
                   help="file format (default: png for block, svg for layer)")
    p.add_argument("--level", choices=("block", "layer", "both"), default="block")
    p.add_argument("--input-shape", nargs=3, type=int, metavar=("H", "W", "C"))
    p.add_argument("--variant", help="v1, v1.5, v2 or v2.timm (default: the model's own)")
    p.set_defaults(func=_cmd_plot)


def _cmd_benchmark(args) -> Optional[int]:
    import json

    if args.backend and _switch_backend(args.backend):
        return _run_on_backend(args.backend, args.argv)
    from keras_resnet import benchmark
    result = benchmark.run(args.model, batch=args.batch, image_size=args.image_size,
                           dtype=args.dtype, train=args.train, fold=args.fold,
                           format=args.format, rounds=args.rounds, warmup=args.warmup,
                           peak=not args.no_peak, compare=args.compare,
                           torch_python=args.torch_python,
                           progress=benchmark.progress_stream())
    print(json.dumps(result, indent=1) if args.json else benchmark.table(result))


BACKENDS = ("tensorflow", "jax", "torch")  # Keras' backends, each named as its package


def _switch_backend(backend: str) -> bool:
    """Make `backend` Keras' backend for this command: set KERAS_BACKEND when Keras is not
    imported yet, or is on `backend` (False: go on here); True when Keras runs another
    backend in this process (the command must run in a child). UsageError when the
    backend's package is missing."""
    import importlib.util
    if importlib.util.find_spec(backend) is None:
        raise UsageError(f"--backend {backend} needs the {backend} package: install the extra "
                         f"keras-resnet-zoo[{backend}]")
    keras = sys.modules.get("keras")
    if keras is None:
        os.environ["KERAS_BACKEND"] = backend
        return False
    return keras.backend.backend() != backend


def _run_on_backend(backend: str, argv: Sequence[str]) -> int:
    """`keras-resnet ARGV` in a child process with KERAS_BACKEND=backend; its exit status.
    Its output is printed here; its stderr (progress, errors) is this process'."""
    import subprocess
    env = dict(os.environ, KERAS_BACKEND=backend)
    child = subprocess.run([sys.executable, "-m", "keras_resnet", *argv], env=env,
                           stdout=subprocess.PIPE, text=True)
    print(child.stdout, end="")
    return child.returncode


def _add_benchmark_parser(sub) -> None:
    p = sub.add_parser(
        "benchmark", help="inference (and training) img/s of a model on this machine, with "
                          "the share of its FP32 FMA peak",
        description="Time a registered model on this machine: inference as "
                    "model(x, training=False) in a tf.function (or ONNX Runtime on the file "
                    "`export` writes, --format onnx|int8) and, with --train, training through "
                    "model.fit on an in-memory batch. Each is warmed up, then timed in "
                    "--rounds rounds; the table gives the median img/s, the rounds' min-max, "
                    "ms per batch and the share of the CPU's FP32 FMA peak (2 FLOP per MAC "
                    "for inference, 6 for training), measured by an FMA loop built for the "
                    "CPU's AVX-512 or AVX2 (n/a without either). Progress goes to stderr "
                    "when it is a terminal.")
    p.add_argument("--model", required=True, help="registry name, e.g. resnet50 (see `list`)")
    p.add_argument("--batch", type=int, default=32, help="batch size (default 32)")
    p.add_argument("--image-size", type=int, metavar="S",
                   help="square input size (default: the model's)")
    p.add_argument("--dtype", default="float32", choices=("float32", "bfloat16", "float16"),
                   help="float32, or 16-bit: inference with 16-bit weights (the 'bfloat16' / "
                        "'float16' policy), training in mixed precision (mixed_bfloat16 / "
                        "mixed_float16), through with_dtype_policy")
    p.add_argument("--train", action="store_true", help="also time training (model.fit)")
    p.add_argument("--fold", action="store_true",
                   help="fold BatchNormalization into the convolutions first (inference)")
    p.add_argument("--format", default="keras", choices=("keras", "onnx", "int8"),
                   help="keras (default), or ONNX Runtime on the float32 or int8 .onnx file "
                        "`export` writes (needs keras-resnet-zoo[onnx])")
    p.add_argument("--rounds", type=int, default=10, metavar="N",
                   help="timed rounds (default 10), each about 0.2 s or more")
    p.add_argument("--warmup", type=int, default=2, metavar="N",
                   help="untimed warm-up calls or epochs (default 2)")
    p.add_argument("--no-peak", action="store_true",
                   help="skip the FMA peak loop (about 1 s)")
    p.add_argument("--backend", choices=BACKENDS,
                   help="Keras backend to measure on (default: KERAS_BACKEND's, else "
                        "tensorflow)")
    p.add_argument("--compare", choices=("torch",),
                   help="also run the same network in torch (timm's or torchvision's, both "
                        "layouts; torch.ao for --format int8) in rounds interleaved with ours, "
                        "and print our img/s over torch's faster layout, round by round")
    p.add_argument("--torch-python", metavar="PATH",
                   help="with --compare torch: the Python that has torch (default: this one)")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    p.set_defaults(func=_cmd_benchmark)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `keras-resnet` (one sub-parser per subcommand)."""
    parser = _Parser(prog="keras-resnet", description="ResNet model zoo for Keras 3.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("list", help="the registered models with their metadata")
    p.add_argument("--pretrained", action="store_true",
                   help="list the pretrained weights instead (accuracy, preprocessing, license)")
    p.add_argument("--markdown", action="store_true",
                   help="with --pretrained: as a Markdown table, grouped by architecture")
    p.set_defaults(func=_cmd_list)

    p = sub.add_parser("params", help="build every model; parameters and MACs next to "
                                      "the paper's Table 1 and the peers' counts")
    p.add_argument("models", nargs="*", metavar="MODEL", help="registry names (default: all)")
    p.set_defaults(func=_cmd_params)

    p = sub.add_parser("summary", help="print model.summary() of one model")
    p.add_argument("model", metavar="MODEL")
    p.add_argument("--input-shape", nargs=3, type=int, metavar=("H", "W", "C"))
    p.add_argument("--num-classes", type=int)
    p.add_argument("--variant")
    p.set_defaults(func=_cmd_summary)
    _add_convert_parser(sub)
    _add_export_parser(sub)
    _add_push_parser(sub)
    _add_training_parsers(sub)
    _add_plot_parser(sub)
    _add_benchmark_parser(sub)
    return parser


@contextlib.contextmanager
def _warnings_as_lines(command: str) -> Iterator[None]:
    """Print each UserWarning as one `keras-resnet COMMAND: warning: ...` line, not Python's
    file:line form with a source line under it."""
    import warnings
    original = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):
        if issubclass(category, UserWarning):
            print(f"keras-resnet {command}: warning: {message}", file=sys.stderr)
        else:
            original(message, category, filename, lineno, file, line)

    warnings.showwarning = show
    try:
        yield
    finally:
        warnings.showwarning = original


@contextlib.contextmanager
def _without_tensorflow_log_lines() -> Iterator[None]:
    """Route file descriptor 2 through a filter that drops TensorFlow's C++ log
    lines and passes every other line on as it comes."""
    if os.environ.get("KERAS_RESNET_TF_LOGS") == "1":
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    read_end, write_end = os.pipe()
    os.dup2(write_end, 2)
    os.close(write_end)

    def forward():
        with os.fdopen(read_end, "rb") as pipe:
            for line in pipe:
                if not _TF_LOG_LINE.match(line.decode(errors="replace")):
                    os.write(saved, line)

    thread = threading.Thread(target=forward, daemon=True)
    thread.start()
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)  # closes the pipe's last write end: the thread drains and ends
        thread.join(timeout=5)
        os.close(saved)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of `keras-resnet` and `python -m keras_resnet`."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from keras_resnet.training.files import RunWriteError
    from keras_resnet.training.preemption import Preempted, WorkerLost

    args = build_parser().parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    try:
        with _without_tensorflow_log_lines(), _warnings_as_lines(args.command):
            status = args.func(args)  # None, or a child process' exit status
    except (UsageError, ValueError) as e:
        print(f"keras-resnet {args.command}: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except (Preempted, WorkerLost) as e:
        return _stopped_training(args, e)
    except RunWriteError as e:  # the run directory (or a file in it) cannot be written
        print(f"keras-resnet {args.command}: error: {e}", file=sys.stderr)
        return EXIT_CANT_WRITE
    except BrokenPipeError:  # the reader went away (`keras-resnet list | head`): not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as e:  # a file or directory the user named cannot be read or written
        where = f": {e.filename}" if e.filename else ""
        print(f"keras-resnet {args.command}: error: {e.strerror or e}{where}", file=sys.stderr)
        return EXIT_USAGE
    return status or 0


if __name__ == "__main__":
    sys.exit(main())
