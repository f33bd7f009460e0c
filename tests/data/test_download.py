"""download(): verified, atomic, mirror fallback; nothing half-written survives any failure.

All requests go to a loopback HTTP server started by the `http_server` fixture.
"""

import hashlib

import pytest

from arena_core.data import DataUnavailableError, DownloadError
from arena_core.data import download as download_module
from arena_core.data.download import download, file_digest

BODY = bytes(range(256)) * 4000  # ~1 MB, several read chunks


def leftovers(directory):
    """Everything in the directory except the expected final file names."""
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


def test_success_md5_and_sha256(http_server, tmp_path):
    http_server.add("/a/file.bin", BODY)
    dest = download(
        [http_server.url("/a/file.bin")],
        tmp_path / "d" / "file.bin",
        md5=hashlib.md5(BODY).hexdigest(),
    )
    assert dest.read_bytes() == BODY
    assert leftovers(tmp_path / "d") == ["file.bin"]
    assert dest.stat().st_mode & 0o777 == 0o644
    dest2 = download(
        http_server.url("/a/file.bin"), tmp_path / "e.bin", sha256=hashlib.sha256(BODY).hexdigest()
    )
    assert dest2.read_bytes() == BODY
    assert file_digest(dest2, "sha256") == hashlib.sha256(BODY).hexdigest()


def test_checksum_mismatch_leaves_nothing(http_server, tmp_path):
    http_server.add("/f.bin", BODY)
    with pytest.raises(DownloadError, match=r"f\.bin.*md5 mismatch") as info:
        download([http_server.url("/f.bin")], tmp_path / "c" / "f.bin", md5="0" * 32)
    assert isinstance(info.value, DataUnavailableError)
    assert "\n" not in str(info.value)
    assert http_server.url("/f.bin") in str(info.value)
    assert leftovers(tmp_path / "c") == []


def test_truncated_body_leaves_nothing(http_server, tmp_path):
    # The server promises 2x the bytes, sends half of that, and closes the connection.
    http_server.add("/t.bin", BODY, length=2 * len(BODY))
    with pytest.raises(DownloadError, match="truncated"):
        download(
            [http_server.url("/t.bin")], tmp_path / "c" / "t.bin", md5=hashlib.md5(BODY).hexdigest()
        )
    assert leftovers(tmp_path / "c") == []


def test_404_then_second_mirror(http_server, tmp_path):
    http_server.add("/m2/x.bin", BODY)
    dest = download(
        [http_server.url("/m1/x.bin"), http_server.url("/m2/x.bin")],
        tmp_path / "x.bin",
        md5=hashlib.md5(BODY).hexdigest(),
    )
    assert dest.read_bytes() == BODY
    assert http_server.requests == ["/m1/x.bin", "/m2/x.bin"]


def test_all_mirrors_fail_one_line_naming_each(http_server, tmp_path):
    urls = [http_server.url("/nope1/y.bin"), http_server.url("/nope2/y.bin")]
    with pytest.raises(DownloadError) as info:
        download(urls, tmp_path / "y.bin", md5="0" * 32)
    message = str(info.value)
    assert "\n" not in message and "HTTP 404" in message
    assert all(u in message for u in urls)
    assert leftovers(tmp_path) == []


def test_timeout_is_an_error(http_server, tmp_path):
    http_server.add("/slow.bin", BODY, delay=1.0)
    with pytest.raises(DownloadError, match="slow.bin"):
        download([http_server.url("/slow.bin")], tmp_path / "slow.bin", md5="0" * 32, timeout=0.2)
    assert leftovers(tmp_path) == []


def test_keyboard_interrupt_removes_temp_file(http_server, tmp_path, monkeypatch):
    real = download_module._fetch_once
    seen = []

    def interrupted(url, tmp, *args, **kwargs):
        real(url, tmp, *args, **kwargs)  # the temp file is now fully written...
        seen.append(tmp.exists())
        raise KeyboardInterrupt  # ...and Ctrl-C arrives before the rename

    monkeypatch.setattr(download_module, "_fetch_once", interrupted)
    http_server.add("/k.bin", BODY)
    with pytest.raises(KeyboardInterrupt):
        download(
            [http_server.url("/k.bin")], tmp_path / "k" / "k.bin", md5=hashlib.md5(BODY).hexdigest()
        )
    assert seen == [True]
    assert leftovers(tmp_path / "k") == []


def test_existing_file_replaced_only_when_verified(http_server, tmp_path):
    dest = tmp_path / "z.bin"
    dest.write_bytes(b"old complete file")
    http_server.add("/z.bin", BODY, length=len(BODY) + 10)  # truncated
    with pytest.raises(DownloadError):
        download([http_server.url("/z.bin")], dest, md5=hashlib.md5(BODY).hexdigest())
    assert dest.read_bytes() == b"old complete file"
    assert leftovers(tmp_path) == ["z.bin"]


def test_needs_exactly_one_checksum(tmp_path):
    with pytest.raises(ValueError):
        download(["http://127.0.0.1:9/x"], tmp_path / "x")
    with pytest.raises(ValueError):
        download(["http://127.0.0.1:9/x"], tmp_path / "x", md5="0" * 32, sha256="0" * 64)
