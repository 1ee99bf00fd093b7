import pytest


@pytest.fixture
def store(tmp_path, monkeypatch):
    """A result store in a fresh temporary folder (also the default for code under test)."""
    from replication.store import ResultStore

    monkeypatch.setenv("REPLICATION_STORE", str(tmp_path / "store"))
    return ResultStore(tmp_path / "store")
