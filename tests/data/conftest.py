"""Fixtures for the data-layer tests: an isolated cache, synthetic IDX files, a loopback server.

The synthetic IDX bytes are built here with `struct` straight from the format description
(magic 0x0000<dtype><ndim>, big-endian uint32 sizes, payload), independently of
`arena_core.data.idx`, so the parser is checked against the spec and not against itself.
"""

import gzip
import hashlib
import struct
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

IDX_CODES = {np.uint8: 0x08, np.int8: 0x09, np.int16: 0x0B, np.int32: 0x0C}
IDX_CODES |= {np.float32: 0x0D, np.float64: 0x0E}
SPLIT_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


@pytest.fixture(autouse=True)
def isolated_data_env(tmp_path, monkeypatch):
    """Each test gets an empty cache in tmp and no ARENA_DATA; ARENA_OFFLINE=1 stays set."""
    monkeypatch.setenv("ARENA_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("ARENA_DATA", raising=False)
    monkeypatch.setenv("ARENA_OFFLINE", "1")
    for var in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)  # requests to 127.0.0.1 must not go to a proxy
    return tmp_path / "cache"


def idx_bytes(array: np.ndarray) -> bytes:
    """An IDX file's bytes, from the format spec."""
    code = IDX_CODES[array.dtype.type]
    header = struct.pack(">HBB", 0, code, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def synthetic_split(n: int, seed: int, hw: int = 28) -> tuple[np.ndarray, np.ndarray]:
    """Random uint8 images [n, hw, hw] and labels [n] in 0..9 (every class present when n >= 10)."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, hw, hw), dtype=np.uint8)
    labels = (np.arange(n) % 10).astype(np.uint8)
    rng.shuffle(labels)
    return images, labels


def gz_files(n_train: int = 30, n_test: int = 20, seed: int = 0) -> dict[str, tuple]:
    """The four MNIST-layout .gz files: name -> (gzip bytes, the array inside)."""
    out = {}
    for split, n in (("train", n_train), ("test", n_test)):
        images, labels = synthetic_split(n, seed + (split == "test"))
        for stem, array in zip(SPLIT_FILES[split], (images, labels)):
            out[f"{stem}.gz"] = (gzip.compress(idx_bytes(array)), array)
    return out


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def write_files(directory: Path, files: dict[str, tuple], gz: bool = True) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, (data, _) in files.items():
        if gz:
            (directory / name).write_bytes(data)
        else:
            (directory / name.removesuffix(".gz")).write_bytes(gzip.decompress(data))
    return directory


@pytest.fixture
def synth():
    """The helpers above, for test modules (conftest is not importable under importlib mode)."""
    return SimpleNamespace(
        idx_bytes=idx_bytes,
        synthetic_split=synthetic_split,
        gz_files=gz_files,
        md5=md5,
        write_files=write_files,
        SPLIT_FILES=SPLIT_FILES,
    )


class LoopbackServer:
    """State of the test HTTP server: routes to serve and the paths requested so far.

    A route is `path -> (status, body, advertised_length, delay_s)`; a length larger than the
    body makes the server close the connection early (a truncated transfer).
    """

    def __init__(self):
        self.routes: dict[str, tuple[int, bytes, int, float]] = {}
        self.requests: list[str] = []
        self.base = ""

    def add(self, path: str, body: bytes, status: int = 200, length: int | None = None, delay=0.0):
        self.routes[path] = (status, body, len(body) if length is None else length, delay)

    def url(self, prefix: str) -> str:
        return f"{self.base}{prefix}"


@pytest.fixture
def http_server():
    """A threaded HTTP server on 127.0.0.1 (port 0 = any free port), stopped at teardown.

    A watchdog timer shuts it down after 60 s even if teardown never runs.
    """
    state = LoopbackServer()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            state.requests.append(self.path)
            route = state.routes.get(self.path)
            if route is None:
                self.send_error(404, "Not Found")
                return
            status, body, length, delay = route
            if delay:
                threading.Event().wait(delay)
            self.send_response(status)
            self.send_header("Content-Length", str(length))
            self.end_headers()
            try:
                self.wfile.write(body)
            except OSError:  # the client gave up (timeout test)
                pass
            self.close_connection = True

        def log_message(self, *args):  # keep pytest output clean
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    watchdog = threading.Timer(60.0, server.shutdown)
    watchdog.daemon = True
    watchdog.start()
    try:
        yield state
    finally:
        watchdog.cancel()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
