"""Download a file over HTTP(S) into the cache: verified, atomic, never half-written.

`download(urls, dest, md5=...)` tries each mirror in order. For one mirror it

1. streams the body into a temp file in `dest`'s directory (`.<name>.<random>.part`), showing a
   tqdm bar on stderr (hidden when stderr is not a terminal);
2. checks the byte count against `Content-Length` (a connection closed early is an error);
3. checks the md5 or sha256 of what arrived (a mismatch is an error);
4. renames the temp file onto `dest` with `os.replace` (atomic on POSIX and Windows).

On any failure, including Ctrl-C (`KeyboardInterrupt`, which is re-raised unchanged), the temp
file is deleted, so the cache holds either the complete verified file or nothing. When every
mirror fails, `DownloadError` says which URLs were tried and why, in one line.
"""

import hashlib
import http.client
import os
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from tqdm.auto import tqdm

from arena_core.data.sources import DataUnavailableError

USER_AGENT = "arena-core-data/0.1 (+https://github.com/; python-urllib)"
CHUNK = 1 << 20  # 1 MiB reads: few syscalls, small memory


class DownloadError(DataUnavailableError):
    """A download failed on every mirror (HTTP error, timeout, truncation or checksum mismatch)."""


def file_digest(path: str | Path, algorithm: str = "md5") -> str:
    """Hex digest of a file, read in chunks."""
    h = hashlib.new(algorithm)
    with open(path, "rb") as fh:
        while block := fh.read(CHUNK):
            h.update(block)
    return h.hexdigest()


def _fetch_once(url: str, tmp: Path, timeout: float, algorithm: str, desc: str) -> str:
    """Stream `url` into `tmp`; return the hex digest. Raises DownloadError / OSError."""
    h = hashlib.new(algorithm)
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        length = response.headers.get("Content-Length")
        total = int(length) if length is not None else None
        got = 0
        with (
            open(tmp, "wb") as out,
            tqdm(
                total=total,
                desc=desc,
                unit="B",
                unit_scale=True,
                unit_divisor=1024,
                disable=None,
                file=sys.stderr,
                leave=False,
            ) as bar,
        ):
            while True:
                try:
                    block = response.read(CHUNK)
                except http.client.IncompleteRead as err:  # urllib's own truncation check
                    got += len(err.partial)
                    raise DownloadError(
                        f"truncated: connection closed after {got} of {total} bytes"
                    ) from err
                if not block:
                    break
                out.write(block)
                h.update(block)
                got += len(block)
                bar.update(len(block))
    if total is not None and got != total:
        raise DownloadError(f"truncated: got {got} of {total} bytes (Content-Length)")
    return h.hexdigest()


def download(
    urls: str | Sequence[str],
    dest: str | Path,
    *,
    md5: str | None = None,
    sha256: str | None = None,
    timeout: float = 30.0,
) -> Path:
    """Download the first mirror in `urls` that works to `dest`, verified; return `dest`.

    Exactly one of `md5` / `sha256` must be given (a download we cannot verify is not cached).
    `timeout` (seconds) bounds each connect and each read, not the whole transfer.
    """
    if (md5 is None) == (sha256 is None):
        raise ValueError("download() needs exactly one of md5= or sha256=")
    algorithm, expected = ("md5", md5) if md5 is not None else ("sha256", sha256)
    expected = expected.lower()
    urls = [urls] if isinstance(urls, str) else list(urls)
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    errors = []
    for url in urls:
        fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
        os.close(fd)
        tmp = Path(tmp_name)
        try:
            digest = _fetch_once(url, tmp, timeout, algorithm, desc=dest.name)
            if digest != expected:
                raise DownloadError(f"{algorithm} mismatch: expected {expected}, got {digest}")
            os.chmod(tmp, 0o644)  # mkstemp makes it 0600; a cache file should be world-readable
            os.replace(tmp, dest)
            return dest
        except (DownloadError, urllib.error.URLError, OSError, http.client.HTTPException) as err:
            errors.append(f"{url}: {_reason(err)}")
        finally:  # also runs on KeyboardInterrupt, which then propagates unchanged
            tmp.unlink(missing_ok=True)
    raise DownloadError(f"could not download {dest.name}: " + "; ".join(errors))


def _reason(err: BaseException) -> str:
    """One short line: why a mirror failed."""
    if isinstance(err, urllib.error.HTTPError):
        return f"HTTP {err.code} {err.reason}"
    if isinstance(err, urllib.error.URLError):
        return f"{type(err.reason).__name__}: {err.reason}"
    text = str(err) if isinstance(err, DownloadError) else f"{type(err).__name__}: {err}"
    return " ".join(text.split())
