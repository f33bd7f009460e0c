"""Our scalar `Value` engine vs PyPI `micrograd` on micrograd's own demo, at equal graph shape.

The demo: a 2-16-16-1 ReLU MLP on 100 `make_moons(noise=0.1)` points (np.random.seed(1337)),
100 full-batch SGD steps with lr = 1.0 - 0.9 k / 100, loss = mean hinge relu(1 - y f(x)) +
1e-4 * ||params||^2. Every row starts from the *same* weights (random.seed(1337), uniform(-1, 1)
drawn in the same order) and reaches the same loss and accuracy.

Three rows, because two different things make our version fast:
- `micrograd`: micrograd's `nn.MLP` and the demo's loss code on micrograd's engine.
- `ours`: the *same* network and loss code (micrograd's `nn` module, its `Value` global pointed
  at our class) on our engine. The graph is identical, node for node (binary `+` and `*` per
  weight, as micrograd's `Neuron` builds it): this row compares the engines and nothing else.
- `ours, dot`: our own `value_nn` network, one fused `Value.dot` node per neuron and per
  ||params||^2 instead of 2n binary nodes: ~9x fewer nodes. This row measures the graph shape
  on top of the engine.
Node counts (all nodes / interior nodes of one step's graph) are printed for each.

Every measurement runs in its own subprocess with Python's garbage collector left ON (the default),
timing the whole 100-step loop (wall clock and process CPU time: on a shared machine CPU time is
the fair measure) and reading the process's peak RSS (VmHWM). The worker gets the data through
stdin and never imports scikit-learn: its import alone peaks at ~185 MB RSS and leaves ~250k
objects that every full collection of the cyclic GC then walks, which would inflate both engines'
numbers. BLAS threads are pinned to 1 (our rows import numpy through `arena_core.autograd`, and
its idle OpenBLAS thread otherwise spins for ~0.07 CPU s after the import). A second subprocess
per row measures the peak of Python allocations with tracemalloc (which slows allocation, so it
is never part of the timing). If micrograd exceeds `--micrograd-budget` CPU seconds, its run
stops and its time is extrapolated linearly from the steps it finished. Our rows are repeated
`--repeats` times (median).

Run:  python benchmarks/bench_micrograd.py [--micrograd-budget 400] [--repeats 3] [--steps 100]
"""

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import time
import tracemalloc

ROWS = {"micrograd": "micrograd", "ours": "ours", "ours-dot": "ours, dot"}


def moons() -> tuple[list, list]:
    import numpy as np
    from sklearn.datasets import make_moons

    np.random.seed(1337)
    X, y = make_moons(n_samples=100, noise=0.1)
    return X.tolist(), (y * 2 - 1).tolist()


def _demo_setup(engine: str, X, y):
    """micrograd's own network (`micrograd.nn.MLP`) and the demo notebook's loss, with every Value
    made by `engine`'s class: the same code, hence the same graph, on either engine."""
    import micrograd.nn

    if engine == "micrograd":
        from micrograd.engine import Value
    else:
        from arena_core.autograd.value import Value
    micrograd.nn.Value = Value  # micrograd.nn creates its weights through this module global
    random.seed(1337)
    model = micrograd.nn.MLP(2, [16, 16, 1])

    def step_loss():
        scores = [model([Value(a), Value(b)]) for a, b in X]
        hinge = sum((1 + -yi * s).relu() for yi, s in zip(y, scores, strict=True)) * (1 / len(y))
        total = hinge + 1e-4 * sum(p * p for p in model.parameters())
        acc = sum((yi > 0) == (s.data > 0) for yi, s in zip(y, scores, strict=True)) / len(y)
        return total, acc

    return model, step_loss


def _dot_setup(X, y):
    """Our `value_nn` network: one `Value.dot` node per neuron."""
    from arena_core.autograd.value_nn import ValueMLP, svm_loss

    model = ValueMLP(2, [16, 16, 1], seed=1337)
    return model, lambda: svm_loss(model, X, y, alpha=1e-4)


def count_nodes(loss) -> tuple[int, int]:
    """(all nodes, interior = non-leaf nodes) of the graph ending at `loss`, for either engine."""
    parents = (lambda v: v._prev) if hasattr(loss, "_prev") else (lambda v: v._parents)
    seen, stack = {loss}, [loss]
    while stack:
        for p in parents(stack.pop()):
            if p not in seen:
                seen.add(p)
                stack.append(p)
    return len(seen), sum(1 for v in seen if parents(v))


def train(row: str, X, y, steps: int, budget: float) -> dict:
    model, step_loss = _dot_setup(X, y) if row == "ours-dot" else _demo_setup(row, X, y)
    params = model.parameters()
    start, cpu0 = time.perf_counter(), time.process_time()
    done, loss, acc = 0, float("nan"), float("nan")
    for k in range(steps):
        total, acc = step_loss()
        model.zero_grad()
        total.backward()
        lr = 1.0 - 0.9 * k / 100
        for p in params:
            p.data -= lr * p.grad
        loss, done = total.data, k + 1
        if time.process_time() - cpu0 > budget:
            break
    result = {
        "seconds": time.perf_counter() - start,
        "cpu_seconds": time.process_time() - cpu0,
        "steps": done,
        "loss": loss,
        "accuracy": acc,
    }
    del total
    result["nodes"], result["interior_nodes"] = count_nodes(step_loss()[0])  # after the timing
    return result


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


def worker(row: str, steps: int, budget: float, trace: bool) -> None:
    import gc

    X, y = json.loads(sys.stdin.read())
    assert gc.isenabled()
    if trace:
        tracemalloc.start()
    result = train(row, X, y, steps, budget)
    if trace:
        result["tracemalloc_peak_mb"] = tracemalloc.get_traced_memory()[1] / 2**20
    result["peak_rss_mb"] = peak_rss_mb()
    print(json.dumps(result))


def spawn(row: str, data: str, steps: int, budget: float, trace: bool = False) -> dict:
    cmd = [sys.executable, __file__, "--worker", row, "--steps", str(steps)]
    cmd += ["--budget", str(budget)]
    if trace:
        cmd.append("--trace")
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    out = subprocess.run(cmd, input=data, capture_output=True, text=True, check=True, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", choices=list(ROWS))
    parser.add_argument("--budget", type=float, default=1e9)
    parser.add_argument("--trace", action="store_true")
    parser.add_argument("--steps", type=int, default=100, help="SGD steps (the demo: 100)")
    parser.add_argument("--micrograd-budget", type=float, default=400.0)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.steps, args.budget, args.trace)
        return

    data, steps = json.dumps(moons()), args.steps
    micro = spawn("micrograd", data, steps, args.micrograd_budget)
    scale = steps / micro["steps"]  # linear extrapolation when micrograd stopped early
    cpu = {"micrograd": [micro["cpu_seconds"] * scale]}
    wall = {"micrograd": [micro["seconds"] * scale]}
    first = {"micrograd": micro}
    for row in ("ours", "ours-dot"):
        runs = [spawn(row, data, steps, 1e9) for _ in range(args.repeats)]
        cpu[row], wall[row] = [r["cpu_seconds"] for r in runs], [r["seconds"] for r in runs]
        first[row] = runs[0]
    trace_budget = min(60.0, args.micrograd_budget)
    traced = {row: spawn(row, data, steps, trace_budget, trace=True) for row in ROWS}

    med = {row: statistics.median(cpu[row]) for row in ROWS}
    print(f"micrograd demo (2-16-16-1 MLP, 100 moons, {steps} SGD steps), GC on, one subprocess "
          f"per measurement; our rows = median of {args.repeats}")  # fmt: skip
    print(f"{'row':<10} {'wall s':>8} {'CPU s':>8} {'CPU/micrograd':>14} {'final loss':>11} "
          f"{'accuracy':>9} {'peak RSS MB':>12} {'tracemalloc MB':>15} {'nodes/step':>11} "
          f"{'interior':>9}")  # fmt: skip
    for row, label in ROWS.items():
        r, tr = first[row], traced[row]
        note = "" if tr["steps"] == steps else f" (tracemalloc over {tr['steps']} steps)"
        print(
            f"{label:<10} {statistics.median(wall[row]):8.2f} {med[row]:8.2f} "
            f"{med[row] / med['micrograd']:13.2%} {r['loss']:11.6f} {r['accuracy']:9.2f} "
            f"{r['peak_rss_mb']:12.1f} {tr['tracemalloc_peak_mb']:15.1f} {r['nodes']:11,} "
            f"{r['interior_nodes']:9,}{note}"
        )
    if micro["steps"] < steps:
        print(f"micrograd stopped after {micro['steps']} steps ({micro['cpu_seconds']:.0f} CPU s); "
              f"its times are extrapolated linearly to {steps} steps and its loss/accuracy are "
              f"at step {micro['steps']}.")  # fmt: skip
    for row in ("ours", "ours-dot"):
        print(f"{ROWS[row]} runs, CPU s: " + ", ".join(f"{c:.2f}" for c in cpu[row]))
    engine, fused = med["ours"] / med["micrograd"], med["ours-dot"] / med["ours"]
    print(f"engine at equal graph shape (ours / micrograd): CPU {engine:.4f}")
    print(f"fused dot node on our engine (ours, dot / ours): CPU {fused:.4f}")
    print(f"both (ours, dot / micrograd): CPU {med['ours-dot'] / med['micrograd']:.4f}")


if __name__ == "__main__":
    main()
