"""The torch/torchvision side of the benchmark, run by `benchmarks.run` in its own process.

Usable with any Python that has torch and torchvision (it imports nothing from
keras_resnet): `python benchmarks/torch_bench.py infer|train|int8 --threads 2 --repeats 5`
(the interleaved `model.fit` rounds' torch side is keras_resnet/torch_worker.py).
Prints one JSON object on stdout; the process' peak RSS is part of it, so each
task runs in a fresh process.
"""

from __future__ import annotations

import argparse
import copy
import functools
import json
import os
import statistics
import sys
import time


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


@functools.lru_cache(maxsize=None)
def _torch_worker():
    """keras_resnet/torch_worker.py, loaded by its path: importing the keras_resnet package
    would import Keras, which a torch-only Python need not have."""
    import importlib.util
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "keras_resnet",
                        "torch_worker.py")
    spec = importlib.util.spec_from_file_location("torch_worker", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


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
    torch = _torch_worker().pin_threads(args.threads)
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
    torch = _torch_worker().pin_threads(args.threads)
    import torchvision
    records = []
    cifar_resnet = _torch_worker().cifar_resnet
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
    torch = _torch_worker().pin_threads(args.threads)
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


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("task", choices=["infer", "train", "int8"])
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch1-calls", type=int, default=10)
    parser.add_argument("--train-batch", type=int, default=128)
    parser.add_argument("--train-calls", type=json.loads, default={},
                        help='steps per timed round, e.g. \'{"resnet20": 5}\'')
    args = parser.parse_args(argv)
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
