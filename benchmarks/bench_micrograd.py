"""Our scalar `Value` engine vs PyPI `micrograd` on micrograd's own demo.

The demo: a 2-16-16-1 ReLU MLP on 100 `make_moons(noise=0.1)` points (np.random.seed(1337)),
100 full-batch SGD steps with lr = 1.0 - 0.9 k / 100, loss = mean hinge relu(1 - y f(x)) +
1e-4 * ||params||^2. Both engines start from the *same* weights (random.seed(1337), uniform(-1, 1)
drawn in the same order), so they should reach the same loss and accuracy.

Every measurement runs in its own subprocess with Python's garbage collector left ON (the default),
timing the whole 100-step loop (wall clock and process CPU time: on a shared, overloaded machine
CPU time is the fair measure) and reading the process's peak RSS (VmHWM); a second
subprocess per engine measures the peak of Python allocations with tracemalloc (which slows
allocation, so it is never part of the timing). micrograd can take minutes here: if it exceeds
`--micrograd-budget` CPU seconds, its run stops and its total time is extrapolated linearly from the
steps it finished (its per-step time grows as garbage piles up, so this *underestimates* micrograd's
time and makes our ratio look worse, not better). Ours is repeated `--repeats` times (median).

Run:  python benchmarks/bench_micrograd.py [--micrograd-budget 300] [--repeats 3]
"""

import argparse
import json
import random
import resource
import statistics
import subprocess
import sys
import time
import tracemalloc

STEPS = 100


def moons() -> tuple[list, list]:
    import numpy as np
    from sklearn.datasets import make_moons

    np.random.seed(1337)
    X, y = make_moons(n_samples=100, noise=0.1)
    return X.tolist(), (y * 2 - 1).tolist()


def train_micrograd(X, y, budget: float) -> dict:
    from micrograd.engine import Value
    from micrograd.nn import MLP

    random.seed(1337)
    model = MLP(2, [16, 16, 1])
    start, cpu0 = time.perf_counter(), time.process_time()
    done, loss, acc = 0, float("nan"), float("nan")
    for k in range(STEPS):
        scores = [model([Value(a), Value(b)]) for a, b in X]
        hinge = sum((1 + -yi * s).relu() for yi, s in zip(y, scores, strict=True)) * (1.0 / len(y))
        total = hinge + 1e-4 * sum(p * p for p in model.parameters())
        acc = sum((yi > 0) == (s.data > 0) for yi, s in zip(y, scores, strict=True)) / len(y)
        model.zero_grad()
        total.backward()
        for p in model.parameters():
            p.data -= (1.0 - 0.9 * k / 100) * p.grad
        loss, done = total.data, k + 1
        if time.process_time() - cpu0 > budget:
            break
    return {
        "seconds": time.perf_counter() - start,
        "cpu_seconds": time.process_time() - cpu0,
        "steps": done,
        "loss": loss,
        "accuracy": acc,
    }


def train_ours(X, y, budget: float) -> dict:
    from arena_core.autograd.value_nn import ValueMLP, sgd_step, svm_loss

    model = ValueMLP(2, [16, 16, 1], seed=1337)
    start, cpu0 = time.perf_counter(), time.process_time()
    done, loss, acc = 0, float("nan"), float("nan")
    for k in range(STEPS):
        total, acc = svm_loss(model, X, y, alpha=1e-4)
        model.zero_grad()
        total.backward()
        sgd_step(model.parameters(), 1.0 - 0.9 * k / 100)
        loss, done = total.data, k + 1
        if time.process_time() - cpu0 > budget:
            break
    return {
        "seconds": time.perf_counter() - start,
        "cpu_seconds": time.process_time() - cpu0,
        "steps": done,
        "loss": loss,
        "accuracy": acc,
    }


def peak_rss_mb() -> float:
    """This process's peak resident memory. VmHWM belongs to the process's own address space;
    ru_maxrss would carry over the parent's peak across fork + exec on Linux."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def worker(engine: str, budget: float, trace: bool) -> None:
    import gc

    X, y = json.loads(sys.stdin.read())
    assert gc.isenabled()
    if trace:
        tracemalloc.start()
    result = (train_ours if engine == "ours" else train_micrograd)(X, y, budget)
    if trace:
        result["tracemalloc_peak_mb"] = tracemalloc.get_traced_memory()[1] / 2**20
    result["peak_rss_mb"] = peak_rss_mb()
    print(json.dumps(result))


def spawn(engine: str, data: str, budget: float, trace: bool = False) -> dict:
    cmd = [sys.executable, __file__, "--worker", engine, "--budget", str(budget)]
    if trace:
        cmd.append("--trace")
    out = subprocess.run(cmd, input=data, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", choices=["ours", "micrograd"])
    parser.add_argument("--budget", type=float, default=1e9)
    parser.add_argument("--trace", action="store_true")
    parser.add_argument("--micrograd-budget", type=float, default=300.0)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.budget, args.trace)
        return

    data = json.dumps(moons())
    ours_runs = [spawn("ours", data, 1e9) for _ in range(args.repeats)]
    ours_trace = spawn("ours", data, 1e9, trace=True)
    micro = spawn("micrograd", data, args.micrograd_budget)
    micro_trace = spawn("micrograd", data, min(60.0, args.micrograd_budget), trace=True)
    scale = STEPS / micro["steps"]  # linear extrapolation when micrograd stopped early
    micro_wall, micro_cpu = micro["seconds"] * scale, micro["cpu_seconds"] * scale
    ours_wall = statistics.median(r["seconds"] for r in ours_runs)
    ours_cpu = statistics.median(r["cpu_seconds"] for r in ours_runs)

    print(f"micrograd demo (2-16-16-1 MLP, 100 moons, {STEPS} SGD steps), GC on, one subprocess "
          f"per measurement; ours = median of {args.repeats}")  # fmt: skip
    header = (f"{'engine':<10} {'wall s':>8} {'CPU s':>8} {'CPU/micrograd':>14} {'final loss':>11}"
              f" {'accuracy':>9} {'peak RSS MB':>12} {'tracemalloc peak MB':>20}")  # fmt: skip
    print(header)
    rows = [
        ("micrograd", micro_wall, micro_cpu, micro, micro_trace),
        ("ours", ours_wall, ours_cpu, ours_runs[0], ours_trace),
    ]
    for name, wall, cpu, r, tr in rows:
        trace_note = "" if tr["steps"] == STEPS else f" ({tr['steps']} steps)"
        print(
            f"{name:<10} {wall:8.2f} {cpu:8.2f} {cpu / micro_cpu:13.2%} {r['loss']:11.5f} "
            f"{r['accuracy']:9.2f} {r['peak_rss_mb']:12.1f} "
            f"{tr['tracemalloc_peak_mb']:20.1f}{trace_note}"
        )
    if micro["steps"] < STEPS:
        print(f"micrograd stopped after {micro['steps']} steps ({micro['cpu_seconds']:.0f} CPU s); "
              f"its times are extrapolated linearly to {STEPS} steps and its loss/accuracy are "
              f"at step {micro['steps']}.")  # fmt: skip
    runs = ", ".join(f"{r['seconds']:.2f}s wall / {r['cpu_seconds']:.2f}s CPU" for r in ours_runs)
    print(f"ours runs: {runs}")
    print(
        f"ratio ours/micrograd: CPU {ours_cpu / micro_cpu:.4f}, wall {ours_wall / micro_wall:.4f}"
    )


if __name__ == "__main__":
    main()
