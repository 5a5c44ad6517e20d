"""torch's side of an interleaved benchmark: one model in one process, driven over stdin.

Run by `keras-resnet benchmark --compare torch` and by the project's benchmarks
(`benchmarks/fit.py`, `benchmarks/torch_bench.py`). It imports nothing from keras_resnet
(nor Keras), so it runs under any Python that has torch, by its path:

    python keras_resnet/torch_worker.py --model resnet50 --mode infer --batch 32 --size 224

The model is the CIFAR ResNet of the paper (resnet20 ... resnet110, option A shortcuts)
built here, torchvision's model of that name, or timm's.
Prints "ready" (or one "error: ..." line and exits 2), then for each "go N" line runs N
calls and prints "done SECONDS"; "quit" or the end of stdin ends it.
- infer: `net(x)` under `torch.inference_mode()` on a fixed random batch, in `--layout`
  (NCHW or channels_last), fp32 or under `torch.autocast` (`--dtype bfloat16|float16`);
  int8 (`--dtype int8`): torch.ao FX post-training quantization, x86 backend, NCHW.
- fit: the usual loop over a shuffled `DataLoader(TensorDataset)` of in-memory batches,
  SGD momentum 0.9, cross-entropy; autocast for bfloat16/float16.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time

MODES = ("infer", "fit")
LAYOUTS = ("NCHW", "channels_last")
DTYPES = ("float32", "bfloat16", "float16", "int8")


def pin_threads(threads: int):
    """torch with `threads` intra-op threads and one inter-op thread (eager autograd runs
    its ops one after another)."""
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(threads)
    import torch
    torch.set_num_threads(threads)
    torch.set_num_interop_threads(1)
    return torch


def cifar_resnet(n: int, num_classes: int = 10):
    """The paper's CIFAR ResNet (6n + 2 layers, option A), with basic blocks as
    torchvision's BasicBlock (written here: torch alone builds it)."""
    from torch import nn
    from torch.nn import functional as F

    class BasicBlock(nn.Module):
        def __init__(self, inplanes, planes, stride, downsample):
            super().__init__()
            self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(planes)
            self.relu = nn.ReLU(inplace=True)
            self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(planes)
            self.downsample = downsample

        def forward(self, x):
            out = self.relu(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            return self.relu(out + (x if self.downsample is None else self.downsample(x)))

    class OptionA(nn.Module):  # strided subsampling + zero channels, no parameters
        def __init__(self, stride, extra):
            super().__init__()
            self.stride, self.extra = stride, extra

        def forward(self, x):
            x = x[:, :, ::self.stride, ::self.stride]
            return F.pad(x, (0, 0, 0, 0, self.extra // 2, self.extra - self.extra // 2))

    layers = [nn.Conv2d(3, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU(inplace=True)]
    inplanes = 16
    for stage, width in enumerate((16, 32, 64)):
        for i in range(n):
            stride = 2 if stage > 0 and i == 0 else 1
            down = OptionA(stride, width - inplanes) if stride > 1 or width != inplanes else None
            layers.append(BasicBlock(inplanes, width, stride, downsample=down))
            inplanes = width
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, num_classes)]
    return nn.Sequential(*layers)


def build(name: str, num_classes: int):
    """(the torch model `name`, where it came from): a CIFAR ResNet, torchvision's or timm's.
    Raises ValueError when none of them has `name`."""
    cifar = re.fullmatch(r"resnet(\d+)", name)
    if cifar and int(cifar.group(1)) in (20, 32, 44, 56, 110):
        return cifar_resnet((int(cifar.group(1)) - 2) // 6, num_classes), "CIFAR ResNet (option A)"
    try:
        import torchvision
        if name in torchvision.models.list_models(module=torchvision.models):
            return torchvision.models.get_model(name, num_classes=num_classes), "torchvision"
    except ImportError:
        pass
    try:
        import timm
    except ImportError:
        raise ValueError(f"torchvision has no {name!r} and timm is not installed "
                         "(pip install timm)") from None
    if not timm.is_model(name):
        raise ValueError(f"neither torchvision nor timm {timm.__version__} has {name!r}")
    return timm.create_model(name, pretrained=False, num_classes=num_classes), "timm"


def _int8(torch, net, example):
    """torch.ao FX graph-mode post-training quantization (x86), calibrated on random
    batches (speed does not depend on the ranges)."""
    import copy

    from torch.ao.quantization import get_default_qconfig_mapping
    from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx
    torch.backends.quantized.engine = "x86"
    prepared = prepare_fx(copy.deepcopy(net), get_default_qconfig_mapping("x86"), (example,))
    with torch.inference_mode():
        for _ in range(2):
            prepared(torch.randn_like(example))
    return convert_fx(prepared)


def make_step(args):
    """(one call of `args.mode` on `args.model`, the words for it)."""
    torch = pin_threads(args.threads)
    net, source = build(args.model, args.classes)
    torch.manual_seed(0)
    if args.dtype == "int8" and (args.mode != "infer" or args.layout != "NCHW"):
        raise ValueError("int8 is inference in NCHW (torch.ao's quantized graph)")
    fmt = torch.channels_last if args.layout == "channels_last" else torch.contiguous_format
    autocast = {"bfloat16": torch.bfloat16, "float16": torch.float16}.get(args.dtype)
    what = f"{source} {args.model}, {args.layout}, {args.dtype}"

    def amp():
        return torch.autocast("cpu", dtype=autocast or torch.float32,
                              enabled=autocast is not None)

    if args.mode == "infer":
        net = net.eval()
        x = torch.randn(args.batch, 3, args.size, args.size)
        if args.dtype == "int8":
            net = _int8(torch, net, x)
        else:
            net, x = net.to(memory_format=fmt), x.to(memory_format=fmt)

        def infer():
            with torch.inference_mode(), amp():
                net(x)
        return infer, what + ", net(x) under torch.inference_mode()"

    from torch.utils.data import DataLoader, TensorDataset
    net = net.train().to(memory_format=fmt)
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    loss_fn = torch.nn.CrossEntropyLoss()
    n = args.batch * args.distinct_batches
    data = TensorDataset(torch.randn(n, 3, args.size, args.size),
                         torch.randint(0, args.classes, (n,)))
    loader = DataLoader(data, batch_size=args.batch, shuffle=True, drop_last=True)

    def batches():
        while True:
            yield from loader

    stream = batches()

    def train_step():
        x, y = next(stream)
        opt.zero_grad(set_to_none=True)
        with amp():
            loss = loss_fn(net(x.to(memory_format=fmt)), y)
        loss.backward()
        opt.step()
    return train_step, what + ", SGD steps over a DataLoader"


def serve(args, stdin=sys.stdin) -> int:
    """Build, warm up with one call, print "ready WORDS"; then answer "go N" lines."""
    try:
        step, what = make_step(args)
        step()
    except (ValueError, ImportError, RuntimeError) as e:
        print(f"error: {e}".replace("\n", " "), flush=True)
        return 2
    print(f"ready {what}", flush=True)
    for line in stdin:
        words = line.split()
        if not words or words[0] != "go":
            break
        start = time.perf_counter()
        for _ in range(int(words[1])):
            step()
        print(f"done {time.perf_counter() - start}", flush=True)
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True)
    p.add_argument("--mode", choices=MODES, default="infer")
    p.add_argument("--layout", choices=LAYOUTS, default="NCHW")
    p.add_argument("--dtype", choices=DTYPES, default="float32")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--size", type=int, default=224)
    p.add_argument("--classes", type=int, default=1000)
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--distinct-batches", type=int, default=8,
                   help="fit: in-memory batches the DataLoader shuffles")
    return p


if __name__ == "__main__":
    sys.exit(serve(parser().parse_args()))
