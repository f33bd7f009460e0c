"""Shared test harness: device fixture, seeding, offline environment and a network guard.

- `device`: every test that takes it runs on cpu and on cuda; the cuda case skips cleanly without
  a GPU (and carries the `cuda` marker so `-m cuda` selects it).
- Seeding: every test starts from seed 0 in Python, NumPy and torch.
- Offline: ARENA_OFFLINE=1, HF_HUB_OFFLINE=1, WANDB_MODE=disabled for every test.
- `one_thread`: opt-in, module-wide single torch thread for tiny-model test files.
- Network guard: any socket connection to a non-loopback address raises at once and fails the
  test at teardown, even if library code caught the exception and fell back quietly.
"""

import ipaddress
import os
import socket

import pytest

# Set before anything (transformers, wandb, arena_core.data) reads them.
os.environ.setdefault("ARENA_OFFLINE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("WANDB_MODE", "disabled")
os.environ.setdefault("MPLBACKEND", "Agg")


class NetworkAccessError(RuntimeError):
    """A test tried to reach the network."""


_attempts: list[str] = []
_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _is_local(sock: socket.socket, address) -> bool:
    if sock.family == getattr(socket, "AF_UNIX", None):
        return True
    host = address[0] if isinstance(address, tuple) else address
    if host in ("localhost",):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _guarded(real):
    def connect(self, address, *args, **kwargs):
        if not _is_local(self, address):
            _attempts.append(repr(address))
            raise NetworkAccessError(f"test tried to open a network connection to {address!r}")
        return real(self, address, *args, **kwargs)

    return connect


socket.socket.connect = _guarded(_real_connect)
socket.socket.connect_ex = _guarded(_real_connect_ex)


@pytest.fixture(autouse=True)
def _network_guard():
    _attempts.clear()
    yield
    if _attempts:
        tried = ", ".join(_attempts)
        _attempts.clear()
        pytest.fail(f"the test tried to reach the network: {tried}")


@pytest.fixture(autouse=True)
def _seed():
    from arena_core.utils.seed import seed_everything

    seed_everything(0)


def _cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


@pytest.fixture(scope="module")
def one_thread():
    """One intra-op torch thread for a module of tiny-model tests: many small ops run much faster
    on one thread than on two (use `pytestmark = pytest.mark.usefixtures("one_thread")`)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(params=["cpu", pytest.param("cuda", marks=pytest.mark.cuda)])
def device(request):
    """A torch device string; the cuda case skips when no GPU is present."""
    if request.param == "cuda" and not _cuda_available():
        pytest.skip("no CUDA GPU on this machine")
    return request.param


def pytest_configure(config):
    # Under pytest-xdist each worker gets one intra-op thread, so two workers share two cores
    # without oversubscription.
    if os.environ.get("PYTEST_XDIST_WORKER"):
        import torch

        torch.set_num_threads(1)
