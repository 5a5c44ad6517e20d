"""What `keras-resnet benchmark` measures on the user's machine, and the machine itself.

The CPU (model, cores, the vector and matrix extensions of /proc/cpuinfo), its FP32 FMA
peak (an FMA-bound C loop built for the widest FMA the CPU has: AVX-512 or AVX2, none
otherwise), and timed rounds of inference (`model(x, training=False)` in a `tf.function`,
or an ONNX Runtime session on an exported file) and training (`model.fit` on an in-memory
batch). The project's benchmark harness (`benchmarks/run.py`) takes its peak and ISA from
here. Nothing heavy is imported at module level.
"""

from __future__ import annotations

import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Callable, Dict, Iterable, List, Optional

from keras_resnet.cpu import cpu_flags, cpu_model

# The /proc/cpuinfo flags worth naming: the vector and matrix units the kernels use.
ISA_FLAGS = ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "avx512_fp16", "amx_bf16",
             "amx_int8", "asimd", "sve", "sve2")
# How the output names a flag (the ones not here are printed upper-case).
ISA_NAMES = {"avx512f": "AVX-512", "amx_bf16": "AMX-BF16", "amx_int8": "AMX-INT8"}

# FP32 FLOP per cycle and core, by the vector width the peak loop uses: two FMA pipes x
# lanes x 2 FLOP (Zen 4/5, Ice Lake and later server cores; one-pipe parts reach half).
FLOP_PER_CYCLE = {"avx512": 64, "avx2": 32}
_COMPILER_FLAGS = {"avx512": ["-mavx512f"], "avx2": ["-mavx2", "-mfma"]}

# The peak loop: every thread runs independent chains of fused multiply-adds (enough to cover
# the FMA latency on two pipes) and prints the achieved GFLOP/s (2 FLOP per lane per FMA).
# Built with -DWIDTH=512 (-mavx512f) or -DWIDTH=256 (-mavx2 -mfma).
FMA_PEAK_C = r"""
#include <immintrin.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>

#if WIDTH == 512
typedef __m512 vec;
#define LANES 16
#define SET1 _mm512_set1_ps
#define FMADD _mm512_fmadd_ps
#define ADD _mm512_add_ps
#define STORE _mm512_storeu_ps
#else
typedef __m256 vec;
#define LANES 8
#define SET1 _mm256_set1_ps
#define FMADD _mm256_fmadd_ps
#define ADD _mm256_add_ps
#define STORE _mm256_storeu_ps
#endif
#define CHAINS 16
#define INNER 100000L

int main(int argc, char **argv) {
    double seconds = argc > 1 ? atof(argv[1]) : 1.0;
    double total_flops = 0.0, elapsed = 0.0, sink = 0.0;
#pragma omp parallel reduction(+ : total_flops, sink) reduction(max : elapsed)
    {
        vec acc[CHAINS];
        const vec a = SET1(0.999999f), b = SET1(1e-7f);
        for (int c = 0; c < CHAINS; c++) acc[c] = SET1((float)c);
        long rounds = 0;
        double start = omp_get_wtime(), now = start;
        while (now - start < seconds) {
            for (long i = 0; i < INNER; i++)
                for (int c = 0; c < CHAINS; c++) acc[c] = FMADD(acc[c], a, b);
            rounds++;
            now = omp_get_wtime();
        }
        float out[LANES];
        for (int c = 1; c < CHAINS; c++) acc[0] = ADD(acc[0], acc[c]);
        STORE(out, acc[0]);
        sink += out[0];
        total_flops += (double)rounds * INNER * CHAINS * LANES * 2;
        elapsed = now - start;
    }
    printf("%.3f %d %g\n", total_flops / elapsed / 1e9, omp_get_max_threads(), sink);
    return 0;
}
"""


# ----------------------------------------------------------------------------- the machine

def isa(flags: Iterable[str]) -> List[str]:
    """The ISA_FLAGS among `flags`, in ISA_FLAGS' order."""
    present = set(flags)
    return [f for f in ISA_FLAGS if f in present]


def isa_names(flags: Iterable[str]) -> List[str]:
    """`isa(flags)` as people write them: AVX2, FMA, AVX-512, AVX512_BF16, AMX-BF16, ..."""
    return [ISA_NAMES.get(f, f.upper()) for f in isa(flags)]


def peak_isa(flags: Iterable[str]) -> Optional[str]:
    """The vector width the FMA peak loop can use on a CPU with `flags`: "avx512" (avx512f),
    "avx2" (avx2 and fma), or None (no x86 FMA: the peak is not measured)."""
    flags = set(flags)
    if "avx512f" in flags:
        return "avx512"
    if {"avx2", "fma"} <= flags:
        return "avx2"
    return None


def cpuinfo_mhz(cpuinfo: str = "/proc/cpuinfo") -> Optional[float]:
    """The highest `cpu MHz` of /proc/cpuinfo, or None."""
    try:
        with open(cpuinfo) as f:
            values = [float(line.split(":")[1]) for line in f if line.startswith("cpu MHz")]
    except (OSError, ValueError):
        return None
    return max(values) if values else None


def fma_loop_gflops(threads: int, width: str, seconds: float = 1.0,
                    runs: int = 3) -> Optional[float]:
    """GFLOP/s of FMA_PEAK_C built for `width` ("avx512" or "avx2") on `threads` threads: the
    best of `runs` runs (other load can only lower it). None without a C compiler with
    OpenMP, or when the loop fails to build or run."""
    compiler = shutil.which("cc") or shutil.which("gcc")
    if not compiler or width not in _COMPILER_FLAGS:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        source, exe = os.path.join(tmp, "fma_peak.c"), os.path.join(tmp, "fma_peak")
        with open(source, "w") as f:
            f.write(FMA_PEAK_C)
        bits = "512" if width == "avx512" else "256"
        try:
            subprocess.run([compiler, "-O3", *_COMPILER_FLAGS[width], f"-DWIDTH={bits}",
                            "-fopenmp", source, "-o", exe], check=True, capture_output=True)
            env = dict(os.environ, OMP_NUM_THREADS=str(threads))
            return max(float(subprocess.run([exe, str(seconds)], check=True,
                                            capture_output=True, text=True,
                                            env=env).stdout.split()[0]) for _ in range(runs))
        except (OSError, subprocess.CalledProcessError, ValueError, IndexError):
            return None


def fma_peak(threads: Optional[int] = None, *, flags: Optional[Iterable[str]] = None,
             clock_ghz: Optional[float] = None, seconds: float = 1.0, runs: int = 3) -> dict:
    """The FP32 FMA peak of `threads` cores (default all) of this machine.

    peak = threads x clock x FLOP_PER_CYCLE[width], the width the CPU's flags allow
    (`peak_isa`). The clock is `clock_ghz` when given, else the one the FMA loop reaches
    (`fma_loop_gflops`), else /proc/cpuinfo's. Returns a dict: isa (the width, or None),
    flop_per_cycle, gflops, clock_ghz, measured_gflops (the loop's), cpuinfo_mhz,
    cpuinfo_gflops and source (words); gflops and the clock are None ("n/a") on a CPU
    without AVX2+FMA or AVX-512, or when no clock can be had.
    """
    threads = threads or os.cpu_count() or 1
    flags = cpu_flags() if flags is None else set(flags)
    width = peak_isa(flags)
    mhz = cpuinfo_mhz()
    out = dict(isa=width, flop_per_cycle=FLOP_PER_CYCLE.get(width), threads=threads,
               gflops=None, clock_ghz=None, measured_gflops=None, cpuinfo_mhz=mhz,
               cpuinfo_gflops=None, source="n/a: the CPU has neither AVX-512 nor AVX2+FMA")
    if width is None:
        return out
    per_cycle = FLOP_PER_CYCLE[width]
    if mhz:
        out["cpuinfo_gflops"] = threads * mhz / 1000 * per_cycle
    measured = None if clock_ghz else fma_loop_gflops(threads, width, seconds, runs)
    out["measured_gflops"] = measured
    if clock_ghz:
        clock, source = clock_ghz, f"clock {clock_ghz} GHz given"
    elif measured:
        clock = measured / (threads * per_cycle)
        source = (f"clock {clock:.2f} GHz measured by an FMA-bound {width} loop on "
                  f"{threads} threads")
    elif mhz:
        clock, source = mhz / 1000, f"clock {mhz / 1000:.3f} GHz read from /proc/cpuinfo"
    else:
        out["source"] = "n/a: no C compiler with OpenMP and no clock in /proc/cpuinfo"
        return out
    out.update(gflops=threads * clock * per_cycle, clock_ghz=clock,
               source=f"{source}, {per_cycle} FP32 FLOP/cycle/core ({width})")
    return out


def machine() -> dict:
    """CPU model, cores, ISA and the versions that set the speed (TensorFlow, Keras, backend)."""
    import keras
    flags = cpu_flags()
    out = dict(cpu=cpu_model(), cores=os.cpu_count(), isa=isa_names(flags),
               python=platform.python_version(), keras=keras.__version__,
               backend=keras.backend.backend(), tensorflow=None)
    try:
        import tensorflow as tf
        out["tensorflow"] = tf.__version__
    except ImportError:
        pass
    return out


# ----------------------------------------------------------------------------- timing

MIN_ROUND_SECONDS = 0.2  # a timed round repeats its call until it takes about this long
MAX_CALLS = 100


def calls_per_round(seconds_per_call: float) -> int:
    """How many calls make a round of about MIN_ROUND_SECONDS (1 to MAX_CALLS)."""
    if not seconds_per_call > 0:
        return 1
    return max(1, min(MAX_CALLS, math.ceil(MIN_ROUND_SECONDS / seconds_per_call)))


def spread(rates: List[float]) -> dict:
    """Median, min, max and quartiles of per-round img/s."""
    ordered = sorted(rates)
    if len(ordered) >= 2:
        q1, _, q3 = statistics.quantiles(ordered, n=4, method="inclusive")
    else:
        q1 = q3 = ordered[0]
    return dict(img_s=statistics.median(ordered), min=ordered[0], max=ordered[-1], q1=q1, q3=q3,
                rounds=list(rates))


def _progress(what: str, done: int, total: int, rate: Optional[float], stream) -> None:
    if stream is None:
        return
    text = f"{what}: round {done}/{total}" + (f", {rate:,.1f} img/s" if rate else "")
    stream.write(f"\r\033[K{text}")
    stream.flush()


def time_calls(fn: Callable[[], object], batch: int, *, warmup: int, rounds: int,
               what: str = "", progress=None,
               between_rounds: Optional[Callable[[int], None]] = None) -> dict:
    """img/s of `fn` (one call = one batch): `warmup` untimed calls (the last one sets the
    calls per round), then `rounds` timed rounds. `between_rounds(calls)`, when given, runs
    before the first timed round and after each one, outside the timing."""
    seconds = 0.0
    for i in range(max(1, warmup)):
        start = time.perf_counter()
        fn()
        seconds = time.perf_counter() - start
        _progress(what + " warm-up", i + 1, max(1, warmup), None, progress)
    calls = calls_per_round(seconds)
    if between_rounds is not None:
        between_rounds(calls)  # the other contender's warm-up round
    rates = []
    for i in range(rounds):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        rates.append(batch * calls / (time.perf_counter() - start))
        _progress(what, i + 1, rounds, rates[-1], progress)
        if between_rounds is not None:
            between_rounds(calls)
    return dict(spread(rates), batches_per_round=calls)


def time_fit(model, x, y, batch: int, *, warmup: int, rounds: int, what: str = "",
             progress=None, between_rounds: Optional[Callable[[int], None]] = None) -> dict:
    """img/s of `model.fit` on one in-memory batch (x, y): `warmup` one-step epochs (tracing;
    the last one sets the steps per round, about MIN_ROUND_SECONDS), then one `fit` call of
    one untimed step and `rounds` rounds of that many steps, timed by a callback at the
    rounds' last steps (fit's set-up is not counted). One call, not an epoch per round: a
    new epoch's iterator, after a callback that blocked, can wait seconds for its first
    batch. `between_rounds(steps)`, when given, runs after the untimed step and after each
    round, outside the timing (another contender's round)."""
    import keras

    class Clock(keras.callbacks.Callback):
        def __init__(self, total):
            super().__init__()
            self.times, self.total = [], total

        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.times.append(time.perf_counter() - self.start)
            _progress(what + " warm-up", epoch + 1, self.total, None, progress)

    class Rounds(keras.callbacks.Callback):
        def __init__(self, steps):
            super().__init__()
            self.steps, self.times = steps, []

        def on_train_batch_end(self, index, logs=None):
            if index > 0:
                self.left -= 1
                if self.left > 0:
                    return
                # The round's last step is done (a callback without tf logs gets numbers).
                self.times.append(time.perf_counter() - self.start)
                _progress(what, len(self.times), rounds, batch * self.steps / self.times[-1],
                          progress)
            if between_rounds is not None:  # after the untimed step and after each round
                between_rounds(self.steps)
            self.left, self.start = self.steps, time.perf_counter()

    clock = Clock(max(1, warmup))
    model.fit(x, y, batch_size=batch, epochs=max(1, warmup), shuffle=False, verbose=0,
              callbacks=[clock])
    steps = calls_per_round(clock.times[-1])
    timer = Rounds(steps)
    model.fit(_repeated(x, y, 1 + steps * rounds), epochs=1, verbose=0, callbacks=[timer])
    rates = [batch * steps / t for t in timer.times]
    return dict(spread(rates), batches_per_round=steps)


def _repeated(x, y, batches: int):
    """The batch (x, y) `batches` times, as `fit` takes it without copying it `batches` times."""
    import keras

    class Repeated(keras.utils.PyDataset):
        def __len__(self):
            return batches

        def __getitem__(self, index):
            return x, y
    return Repeated()


# ----------------------------------------------------------------------------- next to torch

TORCH_WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "torch_worker.py")
TORCH_EXTRA = ("install torch with torchvision (or timm), or point --torch-python at a "
               "Python that has them")


class WorkerError(ValueError):
    """A benchmark worker process that did not start, or stopped answering."""


class Worker:
    """A process that runs one contender's rounds when told: it prints "ready [WORDS]", then
    answers each "go N" line (N calls or steps) with "done SECONDS" (see `torch_worker`)."""

    def __init__(self, command: List[str], *, cwd: Optional[str] = None,
                 env: Optional[dict] = None):
        self.command = command
        self.proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, text=True, cwd=cwd, env=env)
        line = self.proc.stdout.readline().strip()
        if line.split()[:1] != ["ready"]:
            self.proc.kill()
            self.proc.wait()
            raise WorkerError(line.removeprefix("error: ") or
                              f"{command[0]} exited with status {self.proc.returncode}")
        self.what = line[len("ready"):].strip()

    def round(self, calls: int) -> float:
        """Seconds the worker took for `calls` calls."""
        self.proc.stdin.write(f"go {calls}\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline().split()
        if line[:1] != ["done"]:
            self.proc.kill()
            raise WorkerError(f"benchmark worker {self.command[:3]} stopped: {line!r}")
        return float(line[1])

    def close(self) -> None:
        try:
            self.proc.stdin.write("quit\n")
            self.proc.stdin.close()
        except (BrokenPipeError, OSError):
            pass
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def torch_counterpart(model: str) -> tuple:
    """(the name torch_worker builds, the variant that makes ours the same network, or None
    for the model's own): the paper's CIFAR nets by depth, else timm's (and torchvision's)
    architecture of the same name in timm's convention. ValueError where torch has none."""
    from keras_resnet.pretrained import timm_variant
    from keras_resnet.registry import model_info
    from keras_resnet.sharing import timm_architecture
    info = model_info(model)
    if info.spec.stem.name == "cifar":
        return info.name, None
    variant = timm_variant(info.name)
    arch = timm_architecture(info.name, variant)
    if arch is None:
        raise ValueError(f"--compare torch: {info.name} (the {info.variant!r} convention) has "
                         "no architecture in timm or torchvision to compare with")
    return arch, (variant if variant != info.variant else None)


class TorchContenders:
    """torch's rounds next to ours: one worker per layout (NCHW and channels_last; int8 is
    NCHW only), each round timed by the worker and kept as img/s."""

    def __init__(self, arch: str, *, mode: str, dtype: str, batch: int, size: int,
                 classes: int, python: Optional[str] = None):
        layouts = ("NCHW",) if dtype == "int8" else ("NCHW", "channels_last")
        self.batch, self.workers, self.rates = batch, {}, {}
        env = dict(os.environ, OMP_NUM_THREADS=str(os.cpu_count()))
        try:
            for layout in layouts:
                self.workers[layout] = Worker(
                    [python or sys.executable, TORCH_WORKER, "--model", arch, "--mode", mode,
                     "--layout", layout, "--dtype", dtype, "--batch", str(batch),
                     "--size", str(size), "--classes", str(classes)], env=env)
                self.rates[layout] = []
        except WorkerError as e:
            self.close()
            raise ValueError(f"--compare torch: {e} ({TORCH_EXTRA})") from None
        except OSError as e:
            self.close()
            raise ValueError(f"--compare torch: cannot run {python or sys.executable}: "
                             f"{e.strerror}") from None

    def round(self, calls: int, record: bool = True) -> None:
        for layout, worker in self.workers.items():
            seconds = worker.round(calls)
            if record:
                self.rates[layout].append(self.batch * calls / seconds)

    def best_per_round(self) -> List[float]:
        """torch's faster layout in each recorded round."""
        return [max(rates) for rates in zip(*self.rates.values())]

    def close(self) -> None:
        for worker in self.workers.values():
            worker.close()


def vs_torch(ours: List[float], torch_best: List[float]) -> dict:
    """Our rate over torch's faster layout, round by round: the median and its spread."""
    ratios = [a / b for a, b in zip(ours, torch_best)]
    return dict(vs_torch=statistics.median(ratios), vs_torch_min=min(ratios),
                vs_torch_max=max(ratios), vs_torch_rounds=ratios)


# ----------------------------------------------------------------------------- the command

# The dtype policy of each --dtype: training is mixed precision (float32 variables); an
# inference copy keeps its weights in the 16-bit type (cast once, not at every call: at
# batch 1 the casts of ResNet50's 25M weights cost more than its bf16 convolutions).
DTYPES = {"float32": None, "bfloat16": "mixed_bfloat16", "float16": "mixed_float16"}
INFERENCE_DTYPES = {"float32": None, "bfloat16": "bfloat16", "float16": "float16"}
FORMATS = ("keras", "onnx", "int8")
COMPARE = (None, "torch")
ONNX_EXTRA = 'keras-resnet-zoo[onnx] (pip install "keras-resnet-zoo[onnx]")'


def check_options(model: str, *, batch: int, image_size: Optional[int], dtype: str,
                  train: bool, fold: bool, format: str, rounds: int, warmup: int,
                  compare: Optional[str] = None) -> int:
    """A ValueError naming the option for what cannot be measured; the image size to use."""
    from keras_resnet.registry import model_info
    info = model_info(model)  # names the registered models when unknown
    if batch < 1:
        raise ValueError(f"--batch must be at least 1. Received: {batch}")
    if rounds < 1:
        raise ValueError(f"--rounds must be at least 1. Received: {rounds}")
    if warmup < 0:
        raise ValueError(f"--warmup must be 0 or more. Received: {warmup}")
    size = image_size or info.input_shape[0]
    smallest = info.spec.min_input_size
    if size < smallest:
        raise ValueError(f"--image-size of {info.name} must be at least {smallest}. "
                         f"Received: {size}")
    if dtype not in DTYPES:
        raise ValueError(f"--dtype must be one of {', '.join(DTYPES)}. Received: {dtype!r}")
    if format not in FORMATS:
        raise ValueError(f"--format must be one of {', '.join(FORMATS)}. Received: {format!r}")
    if train and format != "keras":
        raise ValueError(f"--format {format} times inference only: an exported file is not "
                         "trained (drop --train, or use --format keras)")
    if train and fold:
        raise ValueError("--fold is for inference: a folded model has no BatchNormalization "
                         "to train (drop --train or --fold)")
    if compare not in COMPARE:
        raise ValueError(f"--compare must be torch. Received: {compare!r}")
    if format != "keras" and dtype != "float32":
        raise ValueError(f"--format {format} exports a float32 model"
                         f"{' (quantized to int8)' if format == 'int8' else ''}; "
                         f"--dtype {dtype} goes with --format keras")
    if format != "keras":
        import importlib.util
        missing = [m for m in ("onnx", "tf2onnx", "onnxruntime")
                   if importlib.util.find_spec(m) is None]
        if missing:
            raise ValueError(f"--format {format} needs {', '.join(missing)}, not installed: "
                             f"install the extra {ONNX_EXTRA}")
    import keras
    if format != "keras" and keras.backend.backend() != "tensorflow":
        raise ValueError(f"--format {format} exports through TensorFlow: run with "
                         "KERAS_BACKEND=tensorflow")
    return size


def run(model: str, *, batch: int = 32, image_size: Optional[int] = None,
        dtype: str = "float32", train: bool = False, fold: bool = False,
        format: str = "keras", rounds: int = 10, warmup: int = 2, peak: bool = True,
        compare: Optional[str] = None, torch_python: Optional[str] = None,
        progress=None) -> dict:
    """Measure `model` on this machine; the result `keras-resnet benchmark` prints.

    With `compare="torch"`, the same network runs in torch (`torch_worker`, under
    `torch_python`, default this Python) in both layouts, its rounds interleaved with ours;
    a model whose default convention timm lacks (keras.applications' "v1") is built in
    timm's ("v1.5") so that both sides run one network.

    Returns a dict: machine (`machine()`), peak (`fma_peak()`, or None when `peak` is
    False), settings, and rows: one per measured thing (what, path, batch, img_s and its
    spread over `rounds` rounds, ms_per_batch, gflops, peak_share; with `compare`, torch's
    rows and, on ours, vs_torch: the median over rounds of our rate / torch's faster
    layout's in that round, with its min and max).
    """
    size = check_options(model, batch=batch, image_size=image_size, dtype=dtype, train=train,
                         fold=fold, format=format, rounds=rounds, warmup=warmup,
                         compare=compare)
    arch, variant = torch_counterpart(model) if compare else (None, None)
    import keras
    import numpy as np

    from keras_resnet.builders import get_model
    from keras_resnet.macs import count_macs
    from keras_resnet.registry import model_info
    options = dict(variant=variant) if variant else {}
    built = get_model(model, input_shape=(size, size, 3), **options)
    macs = count_macs(built)
    classes = built.output_shape[-1]
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, size, size, 3)).astype("float32")
    settings = dict(model=built.name, registry_name=model, batch=batch, image_size=size,
                    dtype=dtype, train=train, fold=fold, format=format, rounds=rounds,
                    warmup=warmup, macs_per_image=macs, compare=compare,
                    variant=variant or model_info(model).variant)
    result = dict(machine=machine(), settings=settings, rows=[])
    result["peak"] = fma_peak(seconds=0.5, runs=2) if peak else None
    peak_gflops = (result["peak"] or {}).get("gflops")

    def row(what, path, timing, flop_per_mac):
        gflops = flop_per_mac * macs * timing["img_s"] / 1e9 if flop_per_mac else None
        share = gflops / peak_gflops if gflops and peak_gflops else None
        result["rows"].append(dict(what=what, path=path, batch=batch, **timing,
                                   ms_per_batch=1000 * batch / timing["img_s"], gflops=gflops,
                                   peak_share=share))

    def against_torch(mode, torch_dtype, measure, what, flop_per_mac):
        """`measure(between_rounds)` interleaved with torch's rounds; torch's rows."""
        torch = TorchContenders(arch, mode=mode, dtype=torch_dtype, batch=batch, size=size,
                                classes=classes, python=torch_python)
        warm = []

        def torch_round(calls):
            torch.round(calls, record=bool(warm))
            warm.append(calls)
        try:
            timing = measure(torch_round)
        finally:
            torch.close()
        timing.update(vs_torch(timing["rounds"], torch.best_per_round()))
        for layout, worker in torch.workers.items():
            torch_rows.append((f"{what}, torch {layout}", worker.what,
                               dict(spread(torch.rates[layout]),
                                    batches_per_round=warm[-1]), flop_per_mac))
        return timing

    torch_rows = []

    def flush_torch_rows():
        for what, path, timing, flop_per_mac in torch_rows:
            row(what, path, timing, flop_per_mac)
        torch_rows.clear()

    net = keras_resnet_fold(built) if fold else built
    label = f"{model} {size}x{size} {dtype}" + (", BN folded" if fold else "")
    if variant:
        label += f", {variant} (timm's layout)"
    torch_dtype = "int8" if format == "int8" else dtype
    if format == "keras":
        infer_model = _with_policy(net, INFERENCE_DTYPES[dtype])
        fn, path = _inference_fn(infer_model, x)

        def measure(between_rounds=None):
            return time_calls(fn, batch, warmup=warmup, rounds=rounds, what="inference",
                              progress=progress, between_rounds=between_rounds)
    else:
        label = (f"{model} {size}x{size} {'int8' if format == 'int8' else dtype}, "
                 "ONNX Runtime")

        def measure(between_rounds=None):
            nonlocal path
            timing, path = _time_onnx(net, x, format, warmup, rounds, progress,
                                      between_rounds)
            return timing
        path = None
    inference_flop = 2 if format != "int8" else None
    timing = (against_torch("infer", torch_dtype, measure, "inference", inference_flop)
              if compare else measure())
    row(f"inference, {label}", path, timing, inference_flop)
    flush_torch_rows()
    if train:
        keras.backend.clear_session()
        policy = DTYPES[dtype]
        train_model = get_model(model, input_shape=(size, size, 3), **options)
        train_model = _with_policy(train_model, policy)
        train_model.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.9),
                            loss="sparse_categorical_crossentropy")
        y = rng.integers(0, classes, batch).astype("int32")

        def measure_fit(between_rounds=None):
            return time_fit(train_model, x, y, batch, warmup=warmup, rounds=rounds,
                            what="training", progress=progress, between_rounds=between_rounds)
        timing = (against_torch("fit", dtype, measure_fit, "training", 6) if compare
                  else measure_fit())
        row(f"training, {label}",
            "model.fit on one in-memory batch, repeated (one fit call), SGD momentum", timing, 6)
        flush_torch_rows()
    if progress is not None:
        progress.write("\r\033[K")
        progress.flush()
    return result


def keras_resnet_fold(model):
    from keras_resnet.inference import fold_batchnorm
    return fold_batchnorm(model, allow_partial=True)


def _with_policy(model, policy):
    if policy is None:
        return model
    from keras_resnet.inference import with_dtype_policy
    return with_dtype_policy(model, policy)


def _inference_fn(model, x):
    """One inference call on `x` and the words for it: `model(x, training=False)` in a
    tf.function on TensorFlow, `model.predict_on_batch(x)` on the other backends."""
    import keras
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf
        x = tf.constant(x)
        call = tf.function(lambda: model(x, training=False))
        return (lambda: call().numpy()), "model(x, training=False) in a tf.function"
    return (lambda: model.predict_on_batch(x)), "model.predict_on_batch(x)"


def _time_onnx(model, x, format, warmup, rounds, progress, between_rounds=None):
    """Export `model` as keras_resnet.export writes it (int8: calibrated on 16 random
    inputs) and time an ONNX Runtime session on it."""
    import onnxruntime as ort

    from keras_resnet.deploy import export
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.onnx")
        if format == "int8":
            calibration = _calibration(x)
            export(model, path, "onnx", fold_batchnorm=True, quantize="int8",
                   calibration=calibration, calibration_images=len(calibration))
        else:
            export(model, path, "onnx", fold_batchnorm=True)
        options = ort.SessionOptions()
        options.log_severity_level = 3
        session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    feed = {name: x}
    timing = time_calls(lambda: session.run(None, feed), len(x), warmup=warmup,
                        rounds=rounds, what="onnxruntime", progress=progress,
                        between_rounds=between_rounds)
    what = "int8 " if format == "int8" else ""
    return timing, (f"onnxruntime InferenceSession.run on the {what}ONNX file "
                    "keras_resnet.export writes (BN folded)")


def _calibration(x):
    import numpy as np
    return np.random.default_rng(1).standard_normal((16,) + x.shape[1:]).astype("float32")


# ----------------------------------------------------------------------------- output

def header(result: dict) -> str:
    m, p = result["machine"], result["peak"]
    if p is None:
        peak = "FP32 FMA peak not measured"
    elif p["gflops"] is None:
        peak = f"FP32 FMA peak {p['source']}"
    else:
        peak = f"FP32 FMA peak {p['gflops']:,.0f} GFLOP/s ({p['source']})"
    tf = f"TensorFlow {m['tensorflow']}, " if m["tensorflow"] else ""
    return (f"{m['cpu']}, {m['cores']} cores, ISA {' '.join(m['isa']) or 'n/a'}; {peak}\n"
            f"{tf}Keras {m['keras']}, backend {m['backend']}, Python {m['python']}")


def table(result: dict) -> str:
    """The header lines and one row per measured thing, as aligned text."""
    compared = any("vs_torch" in r for r in result["rows"])
    head = ("what", "batch", "img/s (median)", "spread (min-max)", "ms/batch",
            "% of FMA peak") + (("vs torch (min-max)",) if compared else ())
    lines = [head]
    for r in result["rows"]:
        share = f"{100 * r['peak_share']:.1f}%" if r["peak_share"] is not None else "n/a"
        line = (r["what"], str(r["batch"]), f"{r['img_s']:,.1f}",
                f"{r['min']:,.1f}-{r['max']:,.1f}", f"{r['ms_per_batch']:,.2f}", share)
        if compared:
            line += ((f"{r['vs_torch']:.2f}x ({r['vs_torch_min']:.2f}-"
                      f"{r['vs_torch_max']:.2f})") if "vs_torch" in r else "",)
        lines.append(line)
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    text = [header(result), ""]
    for i, line in enumerate(lines):
        cells = [line[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(line[1:], widths[1:])]
        text.append("  ".join(cells).rstrip())
        if i == 0:
            text.append("  ".join("-" * w for w in widths))
    paths = dict.fromkeys(f"{r['what'].split(',')[0]}: {r['path']}" for r in result["rows"])
    text += [""] + [f"timed: {p}" for p in paths]
    text.append(f"{result['settings']['rounds']} timed rounds after "
                f"{result['settings']['warmup']} warm-up; spread is the rounds' min-max")
    if compared:
        text.append("vs torch: our img/s over torch's faster layout in the same round (the "
                    "rounds interleaved), median over rounds (min-max)")
    return "\n".join(text)


def progress_stream():
    """stderr when it is a terminal (the progress line), else None."""
    return sys.stderr if sys.stderr.isatty() else None
