"""The `keras-resnet` command: a thin argparse layer over the library.

Every failure the user can fix (unknown model, bad shape, ...) prints one line
and exits with code 2; heavy imports happen inside the subcommand that needs them.
"""

from __future__ import annotations

import argparse
import sys
from typing import Optional, Sequence

EXIT_USAGE = 2


class UsageError(Exception):
    """A problem the user can fix; printed as one line, exit code 2."""


def _cmd_list(args) -> None:
    from keras_resnet.report import list_table
    print(list_table())


def _cmd_params(args) -> None:
    from keras_resnet.report import params_table
    print(params_table(args.models or None))


def _cmd_summary(args) -> None:
    from keras_resnet.registry import get_model
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
    import tempfile
    import warnings

    from keras_resnet.registry import get_model
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
    fd, tmp = tempfile.mkstemp(prefix=".convert-", suffix=suffix, dir=directory)
    os.close(fd)
    try:  # never leave a half-written DST
        model.save_weights(tmp) if suffix == ".weights.h5" else model.save(tmp)
        os.replace(tmp, args.dst)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    print(f"wrote {args.dst}: {model.name} ({model.count_params():,} parameters) "
          f"from {args.src}")


def _add_convert_parser(sub) -> None:
    p = sub.add_parser("convert", help="convert any accepted weights (imagenet, .weights.h5, "
                                       ".keras, legacy .h5, .pth, .safetensors) to a Keras "
                                       ".weights.h5 or .keras file")
    p.add_argument("src", metavar="SRC", help="'imagenet' or a weights file")
    p.add_argument("dst", metavar="DST", help="output file, ending in .weights.h5 or .keras")
    p.add_argument("--model", required=True, help="registry name, e.g. resnet50")
    p.add_argument("--variant", help="v1, v1.5 (torchvision/timm files) or v2")
    p.add_argument("--num-classes", type=int)
    p.add_argument("--no-top", action="store_true", help="without the classifier")
    p.add_argument("--input-shape", nargs=3, type=int, metavar=("H", "W", "C"))
    p.set_defaults(func=_cmd_convert)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `keras-resnet` (one sub-parser per subcommand)."""
    parser = argparse.ArgumentParser(prog="keras-resnet",
                                     description="ResNet model zoo for Keras 3.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("list", help="the registered models with their metadata")
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
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of `keras-resnet` and `python -m keras_resnet`."""
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except (UsageError, ValueError) as e:
        print(f"keras-resnet {args.command}: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    return 0


if __name__ == "__main__":
    sys.exit(main())
