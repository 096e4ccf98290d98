"""Verified weight digests persist between runs (svibench.weights.hash_cache_file): a later
process trusts an entry only while the file's size, mtime and inode are unchanged."""

from __future__ import annotations

import hashlib
import json
import os

import pytest

from svibench import weights


@pytest.fixture
def cache(tmp_path, monkeypatch):
    path = tmp_path / "cache" / "sha256.json"
    monkeypatch.setenv("SVIBENCH_HASH_CACHE", str(path))
    monkeypatch.setattr(weights, "_HASH_MEMO", {})  # a fresh process
    return path


def test_digest_is_stored_and_trusted_while_the_file_is_unchanged(tmp_path, cache, monkeypatch):
    f = tmp_path / "w.pth"
    f.write_bytes(b"weights" * 1000)
    real = hashlib.sha256(f.read_bytes()).hexdigest()
    assert weights.sha256_file(f) == real
    entries = json.loads(cache.read_text())
    assert entries[str(f.resolve())][-1] == real
    # a new process reads the stored digest instead of the file: prove it by planting one
    entries[str(f.resolve())][-1] = "planted"
    cache.write_text(json.dumps(entries))
    monkeypatch.setattr(weights, "_HASH_MEMO", {})
    assert weights.sha256_file(f) == "planted"
    # the file changes (new mtime): the stored digest no longer counts
    st = f.stat()
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    monkeypatch.setattr(weights, "_HASH_MEMO", {})
    assert weights.sha256_file(f) == real


def test_cache_off_and_unreadable_cache(tmp_path, monkeypatch):
    f = tmp_path / "w.pth"
    f.write_bytes(b"x")
    monkeypatch.setenv("SVIBENCH_HASH_CACHE", "0")
    monkeypatch.setattr(weights, "_HASH_MEMO", {})
    assert weights.hash_cache_file() is None
    assert weights.sha256_file(f) == hashlib.sha256(b"x").hexdigest()
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    monkeypatch.setenv("SVIBENCH_HASH_CACHE", str(bad))
    monkeypatch.setattr(weights, "_HASH_MEMO", {})
    assert weights.sha256_file(f) == hashlib.sha256(b"x").hexdigest()  # recomputed, rewritten
    assert json.loads(bad.read_text())[str(f.resolve())][-1] == hashlib.sha256(b"x").hexdigest()
