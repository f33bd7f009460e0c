"""Activation store: buffered, shuffled training batches, disk-backed when large (days 45–48).

An SAE sees millions of activation rows. Consecutive rows from one prompt are strongly
correlated, so training batches are drawn from a shuffled buffer (as SAELens's store does):
`ActivationStore` reads the source in chunks of `buffer_rows`, mixes each chunk with the half of
the previous buffer that was not served yet, shuffles, and serves the first half in batches.
The source is any `[n, d]` array: a tensor in memory or a NumPy memory map on disk, so a set
larger than memory is read one chunk at a time. Optional `targets` ride along row for row
(a transcoder's MLP outputs).

`ActivationFile` writes rows to a memory map (`acts.npy`) with a small `index.json` recording how
many are done and a fingerprint of what they are; an interrupted collection resumes where it
stopped and a different fingerprint starts over (the pattern of `probes/activations.py`).
"""

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from arena_core.sae.base import SAEError

INDEX = "index.json"


class ActivationStore:
    def __init__(
        self,
        source: Tensor | np.ndarray,
        batch_size: int,
        buffer_rows: int = 65_536,
        targets: Tensor | np.ndarray | None = None,
        seed: int = 0,
    ):
        if source.ndim != 2 or len(source) == 0:
            raise SAEError(f"source must be a non-empty [n, d] array, got {tuple(source.shape)}")
        if targets is not None and len(targets) != len(source):
            raise SAEError(f"{len(targets)} targets for {len(source)} source rows")
        if not 0 < batch_size <= buffer_rows // 2:
            raise SAEError(f"batch_size {batch_size} must be in 1..buffer_rows/2 ({buffer_rows})")
        self.source, self.targets = source, targets
        self.batch_size, self.buffer_rows = batch_size, buffer_rows
        self.gen = torch.Generator().manual_seed(seed)

    def _read(self, arr, start: int, stop: int) -> Tensor:
        rows = arr[start:stop]
        return (
            rows.float() if isinstance(rows, Tensor) else torch.from_numpy(np.array(rows)).float()
        )

    def _chunks(self) -> Iterator[Tensor]:
        n, step = len(self.source), self.buffer_rows // 2
        while True:  # epochs; chunk order reshuffled each time
            for c in torch.randperm((n + step - 1) // step, generator=self.gen).tolist():
                lo, hi = c * step, min(n, (c + 1) * step)
                x = self._read(self.source, lo, hi)
                if self.targets is not None:
                    x = torch.cat([x, self._read(self.targets, lo, hi)], dim=1)
                yield x

    def __iter__(self) -> Iterator[Tensor | tuple[Tensor, Tensor]]:
        d = self.source.shape[1]
        left = None
        for chunk in self._chunks():
            buf = chunk if left is None else torch.cat([left, chunk])
            buf = buf[torch.randperm(len(buf), generator=self.gen)]
            n_serve = max(self.batch_size, (len(buf) // 2) // self.batch_size * self.batch_size)
            n_serve = min(n_serve, len(buf) // self.batch_size * self.batch_size)
            for i in range(0, n_serve, self.batch_size):
                b = buf[i : i + self.batch_size]
                yield b if self.targets is None else (b[:, :d], b[:, d:])
            left = buf[n_serve:]


class ActivationFile:
    """Rows `[n_total, d]` written to `<folder>/acts.npy` incrementally, resumable. `dtype`
    float16 halves the disk (and page cache) a large collection needs."""

    def __init__(
        self, folder: str | Path, n_total: int, d: int, fingerprint: str, dtype=np.float32
    ):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.path = self.folder / "acts.npy"
        index = self.folder / INDEX
        meta = json.loads(index.read_text()) if index.exists() else {}
        dt = np.dtype(dtype).name
        fresh = meta.get("fingerprint") != fingerprint or meta.get("shape") != [n_total, d]
        fresh = fresh or meta.get("dtype", "float32") != dt
        if fresh or not self.path.exists():
            np.lib.format.open_memmap(self.path, mode="w+", dtype=dt, shape=(n_total, d))
            meta = {"fingerprint": fingerprint, "shape": [n_total, d], "done": 0, "dtype": dt}
            index.write_text(json.dumps(meta))
        self.meta, self.index = meta, index
        self.n_total = n_total

    @property
    def done(self) -> int:
        return int(self.meta["done"])

    def append(self, rows: Tensor) -> None:
        lo = self.done
        if lo + len(rows) > self.n_total:
            raise SAEError(f"writing {len(rows)} rows after {lo} overflows {self.n_total}")
        mm = np.load(self.path, mmap_mode="r+")
        mm[lo : lo + len(rows)] = rows.detach().float().cpu().numpy().astype(mm.dtype)
        mm.flush()
        self.meta["done"] = lo + len(rows)
        self.index.write_text(json.dumps(self.meta))  # after the rows: a crash never overcounts

    def rewind(self, n: int) -> None:
        """Forget rows after the first `n` (files written side by side resume together)."""
        if not 0 <= n <= self.done:
            raise SAEError(f"cannot rewind to {n}: {self.done} rows written")
        self.meta["done"] = n
        self.index.write_text(json.dumps(self.meta))

    def read(self) -> np.ndarray:
        if self.done < self.n_total:
            raise SAEError(f"only {self.done} of {self.n_total} rows written; resume collection")
        return np.load(self.path, mmap_mode="r")


class _Stop(Exception):
    pass


@torch.no_grad()
def token_activations(
    model, rows: list[list[int]], hook: str, batch_size: int = 16, skip_first: int = 1
) -> Tensor:
    """Activations at `hook` for every token of equal-length `rows` (`[n_rows·(len−skip), d]`).

    The first `skip_first` positions are dropped: the first token's residual stream has a norm
    tens of times larger than the rest in most LMs (an attention sink) and would dominate the
    MSE. The forward pass stops at the hook."""
    if not rows or len({len(r) for r in rows}) != 1:
        raise SAEError("rows must be a non-empty list of token lists of one length")
    if hook not in model.hook_dict:
        raise SAEError(f"unknown hook {hook!r}; see model.hook_dict")
    out: list[Tensor] = []

    def grab(act, hook=None):
        out.append(act[:, skip_first:].reshape(-1, act.shape[-1]).float().cpu())
        raise _Stop

    for i in range(0, len(rows), batch_size):
        try:
            model.run_with_hooks(torch.tensor(rows[i : i + batch_size]), fwd_hooks=[(hook, grab)])
        except _Stop:
            pass
    return torch.cat(out)
