"""The torch/torchvision side of the benchmark, run by `benchmarks.run` in its own process.

Usable with any Python that has torch and torchvision (it imports nothing from
keras_resnet): `python benchmarks/torch_bench.py infer|train|int8 --threads 2 --repeats 5`
(and `fit-worker`, driven by `benchmarks.fit`).
Prints one JSON object on stdout; the process' peak RSS is part of it, so each
task runs in a fresh process.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import statistics
import sys
import time


def _pin(threads: int):
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(threads)
    import torch
    torch.set_num_threads(threads)
    torch.set_num_interop_threads(1)
    return torch


def _peak_rss_mb() -> float:
    """Peak resident set of this process (VmHWM; ru_maxrss would include the parent's)."""
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmHWM")) / 1024


def _median_rate(fn, images: int, repeats: int, calls: int) -> tuple:
    """Images per second: the median over `repeats` rounds of `calls` calls."""
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        rates.append(images * calls / (time.perf_counter() - start))
    return statistics.median(rates), rates


def cifar_resnet(n: int, num_classes: int = 10):
    """The paper's CIFAR ResNet (6n + 2 layers, option A) from torchvision's BasicBlock."""
    from torch import nn
    from torch.nn import functional as F
    from torchvision.models.resnet import BasicBlock

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


def _time_inference(torch, modes, args) -> list:
    """img/s of each (dtype, layout, net, autocast) at batch 32 (one call per round) and 1
    (`--batch1-calls` per round), after two warm-up calls; float nets are put in `layout`."""
    records = []
    for batch in (32, 1):
        for dtype, layout, net, autocast in modes:
            fmt = torch.channels_last if layout == "channels_last" else torch.contiguous_format
            if dtype != "int8":  # a quantized graph keeps the layout it was converted in
                net = net.to(memory_format=fmt)
            x = torch.randn(batch, 3, 224, 224).to(memory_format=fmt)

            def run(net=net, x=x, autocast=autocast):
                with torch.inference_mode(), torch.autocast(
                        "cpu", dtype=autocast or torch.float32, enabled=autocast is not None):
                    net(x)

            calls = 1 if batch > 1 else args.batch1_calls
            for _ in range(2):
                run()
            rate, rates = _median_rate(run, batch, args.repeats, calls)
            records.append(dict(model="resnet50", dtype=dtype, layout=layout, batch=batch,
                                img_s=rate, img_s_runs=rates))
    return records


def infer(args) -> dict:
    torch = _pin(args.threads)
    import torchvision
    builds = []
    for _ in range(3):
        start = time.perf_counter()
        model = torchvision.models.resnet50(weights=None).eval()
        builds.append(time.perf_counter() - start)
    records = _time_inference(torch, [("fp32", "NCHW", model, None),
                                      ("fp32", "channels_last", model, None),
                                      ("bf16", "channels_last", model, torch.bfloat16)], args)
    return dict(task="infer", build_s=statistics.median(builds), records=records)


def train(args) -> dict:
    torch = _pin(args.threads)
    import torchvision
    records = []
    nets = {"resnet20": lambda: cifar_resnet(3), "resnet56": lambda: cifar_resnet(9),
            "resnet18": lambda: torchvision.models.resnet18(num_classes=10)}
    for name, build in nets.items():
        for layout in ("NCHW", "channels_last"):
            fmt = torch.channels_last if layout == "channels_last" else torch.contiguous_format
            torch.manual_seed(0)
            model = build().train().to(memory_format=fmt)
            params = sum(p.numel() for p in model.parameters() if p.requires_grad)
            opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
            loss_fn = torch.nn.CrossEntropyLoss()
            x = torch.randn(args.train_batch, 3, 32, 32).to(memory_format=fmt)
            y = torch.randint(0, 10, (args.train_batch,))

            def step():
                opt.zero_grad(set_to_none=True)
                loss_fn(model(x), y).backward()
                opt.step()

            for _ in range(3):
                step()
            calls = args.train_calls.get(name, 2)
            rate, rates = _median_rate(step, args.train_batch, args.repeats, calls)
            records.append(dict(model=name, layout=layout, trainable_params=params,
                                batch=args.train_batch, img_s=rate, img_s_runs=rates))
    return dict(task="train", records=records)


def int8(args) -> dict:
    """torchvision resnet50 fp32 (channels_last) and int8 through torch.ao's FX graph-mode
    post-training quantization with the x86 backend (calibrated on random images: speed
    does not depend on the ranges)."""
    torch = _pin(args.threads)
    import torchvision
    from torch.ao.quantization import get_default_qconfig_mapping
    from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx
    torch.backends.quantized.engine = "x86"
    model = torchvision.models.resnet50(weights=None).eval()
    example = torch.randn(1, 3, 224, 224)
    start = time.perf_counter()  # on a copy: FX fusion must not touch the fp32 model
    prepared = prepare_fx(copy.deepcopy(model), get_default_qconfig_mapping("x86"), (example,))
    with torch.inference_mode():
        for _ in range(4):
            prepared(torch.randn(8, 3, 224, 224))
    quantized = convert_fx(prepared)
    quantize_s = time.perf_counter() - start
    records = _time_inference(torch, [("fp32", "channels_last", model, None),
                                      ("int8", "NCHW", quantized, None)], args)
    return dict(task="int8", quantize_s=quantize_s, records=records)


def fit_worker(args) -> None:
    """torch's side of `benchmarks.fit`: the usual training loop, driven over stdin.

    Trains `--model` on a DataLoader over an in-memory TensorDataset (shuffled,
    re-iterated every epoch). Prints "ready", then for each "go N" line runs N
    steps and prints "done SECONDS"; "quit" ends it.
    """
    torch = _pin(args.threads)
    import torchvision
    from torch.utils.data import DataLoader, TensorDataset
    fmt = torch.channels_last if args.layout == "channels_last" else torch.contiguous_format
    nets = {"resnet20": lambda: cifar_resnet(3), "resnet56": lambda: cifar_resnet(9),
            "resnet18": lambda: torchvision.models.resnet18(num_classes=args.classes),
            "resnet50": lambda: torchvision.models.resnet50(num_classes=args.classes)}
    torch.manual_seed(0)
    model = nets[args.model]().train().to(memory_format=fmt)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    loss_fn = torch.nn.CrossEntropyLoss()
    n = args.batch * args.distinct_batches
    data = TensorDataset(torch.randn(n, 3, args.size, args.size),
                         torch.randint(0, args.classes, (n,)))
    loader = DataLoader(data, batch_size=args.batch, shuffle=True, drop_last=True)

    def batches():
        while True:
            yield from loader

    stream = batches()
    print("ready", flush=True)
    for line in sys.stdin:
        if line.split()[0] != "go":
            break
        start = time.perf_counter()
        for _ in range(int(line.split()[1])):
            x, y = next(stream)
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(x.to(memory_format=fmt)), y)
            loss.backward()
            opt.step()
        loss.item()
        print(f"done {time.perf_counter() - start}", flush=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("task", choices=["infer", "train", "int8", "fit-worker"])
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch1-calls", type=int, default=10)
    parser.add_argument("--train-batch", type=int, default=128)
    parser.add_argument("--train-calls", type=json.loads, default={},
                        help='steps per timed round, e.g. \'{"resnet20": 5}\'')
    fit = parser.add_argument_group("fit-worker")
    fit.add_argument("--model", choices=["resnet20", "resnet56", "resnet18", "resnet50"])
    fit.add_argument("--layout", choices=["NCHW", "channels_last"], default="NCHW")
    fit.add_argument("--size", type=int, default=32)
    fit.add_argument("--batch", type=int, default=128)
    fit.add_argument("--classes", type=int, default=10)
    fit.add_argument("--distinct-batches", type=int, default=8)
    args = parser.parse_args(argv)
    if args.task == "fit-worker":
        fit_worker(args)
        return 0
    result = {"infer": infer, "train": train, "int8": int8}[args.task](args)
    import torch
    import torchvision
    result.update(torch=torch.__version__, torchvision=torchvision.__version__,
                  threads=torch.get_num_threads(),
                  peak_rss_mb=_peak_rss_mb())
    json.dump(result, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
