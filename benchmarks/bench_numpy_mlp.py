"""One training epoch of ARENA's day-23 MLP: our numpy autograd engine vs the same MLP in torch.

784-64-64-10 ReLU MLP, cross-entropy, plain SGD lr 0.01, batch 512, over N images (default 60,000,
the size of an MNIST epoch; random float32 pixels, since the cost does not depend on the values).
Both use the same thread count (torch.set_num_threads and threadpoolctl for numpy's BLAS) and are
timed interleaved with `arena_core.utils.compare`. Goal: ours within 2x of torch.

Run:  python benchmarks/bench_numpy_mlp.py [--n 60000] [--threads 1] [--rounds 5]
"""

import argparse

import numpy as np
import torch
from threadpoolctl import threadpool_limits

from arena_core.autograd.nn import MLP
from arena_core.autograd.training import torch_twin, train_numpy_mlp, train_torch_mlp
from arena_core.utils import compare


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=60_000)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((args.n, 784)).astype(np.float32)
    y = rng.integers(0, 10, args.n).astype(np.int64)
    data = (X, y, X[:512], y[:512])  # the test pass is tiny so the epoch dominates
    model = MLP([784, 64, 64, 10], rng=rng)
    twin = torch_twin(model)
    with threadpool_limits(limits=args.threads):
        result = compare(
            {
                "torch": lambda: train_torch_mlp(twin, data, 1, 0.01, 512, seed=0),
                "ours (numpy)": lambda: train_numpy_mlp(model, data, 1, 0.01, 512, seed=0),
            },
            reference="torch",
            rounds=args.rounds,
        )
    print(f"one epoch, {args.n} images, batch 512, MLP 784-64-64-10, {args.threads} thread(s), "
          f"{args.rounds} interleaved rounds")  # fmt: skip
    print(result.table())
    print(f"median ratio ours/torch = {result.ratio('ours (numpy)'):.2f}x")


if __name__ == "__main__":
    main()
