"""Our stable logsumexp / softmax / log_softmax / cross_entropy / cosine-similarity matrix
(`arena_core.tensors`) vs torch's built-ins, forward only, on realistic sizes.

Sizes: logits 512 x 8192 float32 (a batch of 512 positions over an 8k vocabulary; GPT-2's
4096 x 50257 does not fit this machine's budget), targets 512; cosine similarity of 2048 x 512
against 2048 x 512. Timing is interleaved (`arena_core.utils.compare`), the same thread count for
both sides; each op prints its table, and the median ratio (ours / torch) per op comes last.

Ours is written from a few whole-tensor ops (max, subtract, exp, sum, log), each a separate pass
over memory, while torch's softmax family is one fused kernel: a ratio of 2-4x is the expected
cost of that, not of Python.

Run:  python benchmarks/bench_tensor_ops.py [--threads 2] [--rounds 15] [--rows 512] [--vocab 8192]
"""

import argparse

import torch
import torch.nn.functional as F

from arena_core import tensors as T
from arena_core.utils import compare


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=15)
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
    ratios = {}
    for name, (ours, ref) in ops.items():
        # same answer first: a benchmark of a wrong function is worthless
        err = (ours().double() - ref().double()).abs().max().item()
        result = compare({"ours": ours, "torch": ref}, reference="torch", rounds=args.rounds)
        ratios[name] = result.ratio("ours")
        print(f"[{name}]  (max abs diff {err:.1e})\n{result.table()}\n")
    print("median time ratio ours / torch (lower is better):")
    for name, ratio in ratios.items():
        print(f"  {name:<18} {ratio:5.2f}x")


if __name__ == "__main__":
    main()
