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
    p.add_argument("--variant", help="v1, v1.5 or v2 (default: the model's own)")
    p.set_defaults(func=_cmd_plot)


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
    _add_plot_parser(sub)
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
