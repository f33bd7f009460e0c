"""IDX files: the tiny binary format of MNIST and Fashion-MNIST (raw or gzip-compressed).

Layout (LeCun et al., http://yann.lecun.com/exdb/mnist/, "FILE FORMATS"): a 4-byte magic number
`0x00 0x00 <dtype code> <ndim>`, then `ndim` big-endian uint32 sizes, then the payload in C order,
big-endian. For MNIST images the magic is 0x00000803 (uint8, 3 dims: N, 28, 28); for labels
0x00000801 (uint8, 1 dim: N).

`read_idx` validates everything it can (magic, dtype code, number of dims, payload size, gzip
integrity) and raises `IdxFormatError` (a `ValueError`) naming the file otherwise. Parsing is one
`numpy.frombuffer` call, so a 47 MB file takes milliseconds after decompression.
"""

import gzip
import zlib
from pathlib import Path

import numpy as np

#: IDX dtype codes -> big-endian numpy dtypes.
IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


class IdxFormatError(ValueError):
    """An IDX file is truncated, corrupt or not an IDX file at all."""


def _read_bytes(path: Path) -> bytes:
    raw = path.read_bytes()
    if raw[:2] != b"\x1f\x8b":  # not gzip: a raw IDX file
        return raw
    try:
        return gzip.decompress(raw)
    except (EOFError, OSError, zlib.error) as err:  # EOFError: truncated; BadGzipFile is OSError
        raise IdxFormatError(f"{path}: corrupt or truncated gzip data ({err})") from err


def parse_idx(data: bytes, name: str = "<bytes>") -> np.ndarray:
    """Parse the bytes of an IDX file into a native-endian numpy array (shape from the header)."""
    if len(data) < 4:
        raise IdxFormatError(f"{name}: only {len(data)} bytes, too short for an IDX header")
    zero, code, ndim = int.from_bytes(data[0:2], "big"), data[2], data[3]
    if zero != 0:
        raise IdxFormatError(f"{name}: bad magic number 0x{data[:4].hex()} (must start 0x0000)")
    if code not in IDX_DTYPES:
        raise IdxFormatError(f"{name}: unknown IDX dtype code 0x{code:02x}")
    if ndim == 0:
        raise IdxFormatError(f"{name}: IDX header declares 0 dimensions")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise IdxFormatError(f"{name}: truncated header ({len(data)} bytes, need {header})")
    shape = tuple(int(s) for s in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    dtype = IDX_DTYPES[code]
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    got = len(data) - header
    if got != expected:
        kind = "truncated" if got < expected else "has trailing bytes"
        raise IdxFormatError(
            f"{name}: payload {kind}: header says shape {shape} ({expected} bytes), found {got}"
        )
    array = np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)
    # uint8 needs no byte swap: keep the zero-copy view (read-only, backed by `data`).
    return array if dtype.itemsize == 1 else array.astype(dtype.newbyteorder("="))


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file (raw, or gzip-compressed: detected from its first bytes, not its name)."""
    path = Path(path)
    return parse_idx(_read_bytes(path), name=str(path))


def write_idx(array: np.ndarray, path: str | Path, compress: bool | None = None) -> Path:
    """Write `array` as an IDX file (gzip when `compress`, default: when the name ends in .gz).

    Used by the tests to make synthetic files, and handy for exporting data in MNIST's format.
    """
    path = Path(path)
    codes = {dt.newbyteorder("="): c for c, dt in IDX_DTYPES.items()}
    dtype = np.dtype(array.dtype).newbyteorder("=")
    if dtype not in codes:
        raise ValueError(f"no IDX dtype code for {array.dtype}")
    header = bytes([0, 0, codes[dtype], array.ndim])
    header += np.asarray(array.shape, dtype=">u4").tobytes()
    data = header + np.ascontiguousarray(array, dtype=dtype.newbyteorder(">")).tobytes()
    compress = path.name.endswith(".gz") if compress is None else compress
    path.write_bytes(gzip.compress(data, mtime=0) if compress else data)
    return path
