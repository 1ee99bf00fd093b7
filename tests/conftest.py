import pytest


@pytest.fixture
def store(tmp_path, monkeypatch):
    """A result store in a fresh temporary folder (also the default for code under test)."""
    from replication.store import ResultStore

    monkeypatch.setenv("REPLICATION_STORE", str(tmp_path / "store"))
    return ResultStore(tmp_path / "store")


@pytest.fixture
def isolated_data(tmp_path, monkeypatch):
    """Own data root, no mirror, offline, no blanket acceptance, empty memo: nothing touches the
    repository's data cache or the network."""
    from replication import data

    monkeypatch.setenv("REPLICATION_DATA_ROOT", str(tmp_path / "data"))
    monkeypatch.delenv("REPLICATION_DATA_DIR", raising=False)
    monkeypatch.delenv("REPLICATION_ACCEPT_UNVERIFIED", raising=False)
    monkeypatch.setenv("REPLICATION_OFFLINE", "1")
    monkeypatch.setenv("REPLICATION_NPM", str(tmp_path / "no-npm"))   # never the real `npm pack`
    data.clear_memo()
    yield
    data.clear_memo()


@pytest.fixture
def one_thread():
    """Tiny problems: one thread is as fast, and immune to OpenMP stalls on a busy shared machine."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
