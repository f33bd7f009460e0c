"""Our stable logsumexp / softmax / log_softmax / cross_entropy / cosine-similarity matrix
(`arena_core.tensors`) vs torch's built-ins, forward only, on realistic sizes.

Sizes: logits 512 x 8192 float32 (a batch of 512 positions over an 8k vocabulary; GPT-2's
4096 x 50257 does not fit this machine's budget), targets 512; cosine similarity of 2048 x 512
against 2048 x 512. Timing is interleaved: each round times ours and torch back to back, in
alternating order, with the same thread count. Per op we print three ratios ours / torch:
- median / median: the headline number (what `arena_core.utils.compare` reports);
- median of the per-round ratios: each round's pair ran within milliseconds of each other, so a
  slow stretch on a shared machine slows both and cancels out of their ratio;
- min / min: the best run of each, the least disturbed by other processes.
When the three disagree a lot, the machine was busy: rerun with more rounds.

Ours is written from whole-tensor torch ops (max, subtract, exp2, sum, log, in place where safe),
one pass over memory each; torch's softmax family is one fused kernel that reads each row once
while it sits in cache. See `arena_core/tensors/stable.py` for what keeps our passes cheap.

Run:  python benchmarks/bench_tensor_ops.py [--threads 2] [--rounds 101] [--rows 512] [--vocab 8192]
"""

import argparse
import statistics
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F

from arena_core import tensors as T


def interleaved(
    ours: Callable[[], object], ref: Callable[[], object], rounds: int, warmup: int = 2
) -> tuple[list[float], list[float]]:
    """Seconds per call of `ours` and `ref`, one of each per round, the order alternating."""
    for _ in range(warmup):
        ours()
        ref()
    t_ours, t_ref = [], []
    for r in range(rounds):
        for fn, out in ((ours, t_ours), (ref, t_ref))[:: 1 if r % 2 == 0 else -1]:
            start = time.perf_counter()
            fn()
            out.append(time.perf_counter() - start)
    return t_ours, t_ref


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=101)
    parser.add_argument("--rows", type=int, default=512)
    parser.add_argument("--vocab", type=int, default=8192)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(args.rows, args.vocab, generator=gen) * 5
    targets = torch.randint(0, args.vocab, (args.rows,), generator=gen)
    a = torch.randn(2048, 512, generator=gen)
    b = torch.randn(2048, 512, generator=gen)

    ops = {
        "logsumexp": (lambda: T.logsumexp(logits, -1), lambda: torch.logsumexp(logits, -1)),
        "softmax": (lambda: T.softmax(logits, -1), lambda: torch.softmax(logits, -1)),
        "log_softmax": (lambda: T.log_softmax(logits, -1), lambda: torch.log_softmax(logits, -1)),
        "cross_entropy": (
            lambda: T.cross_entropy(logits, targets),
            lambda: F.cross_entropy(logits, targets),
        ),
        "cosine_sim_matrix": (
            lambda: T.cosine_similarity_matrix(a, b),
            # torch's own route to the same matrix: normalise rows, one matmul
            lambda: F.normalize(a, dim=-1, eps=1e-8) @ F.normalize(b, dim=-1, eps=1e-8).T,
        ),
    }
    print(
        f"torch {torch.__version__}, {args.threads} thread(s), logits {args.rows}x{args.vocab} "
        f"float32, cosine 2048x512 vs 2048x512, {args.rounds} interleaved rounds\n"
    )
    header = (
        f"{'op':<18} {'ours ms':>8} {'torch ms':>9} {'med/med':>8} {'paired':>7} {'min/min':>8}"
    )
    rows = []
    for name, (ours, ref) in ops.items():
        # same answer first: a benchmark of a wrong function is worthless
        err = (ours().double() - ref().double()).abs().max().item()
        t_ours, t_ref = interleaved(ours, ref, args.rounds)
        med_ours, med_ref = statistics.median(t_ours), statistics.median(t_ref)
        paired = statistics.median(o / r for o, r in zip(t_ours, t_ref, strict=True))
        rows.append(
            f"{name:<18} {med_ours * 1e3:8.3f} {med_ref * 1e3:9.3f} {med_ours / med_ref:7.2f}x "
            f"{paired:6.2f}x {min(t_ours) / min(t_ref):7.2f}x   (max abs diff {err:.1e})"
        )
        print(rows[-1], flush=True)
    print("\nmedian time ratio ours / torch (lower is better):")
    print(header)
    print("\n".join(rows))


if __name__ == "__main__":
    main()
