"""A store a lab can share and trust: entries, checkpoints and verdict files readable by the group
the umask allows, a permission problem named as one (never "damaged", nothing quarantined),
verdict files sealed and tied to the results they rest on (hand-edited, damaged or stale files
detected, named and recomputed without training), and a read-only store served without writing."""
import dataclasses
import errno
import json
import os
import stat
import tempfile
import textwrap
import types
from pathlib import Path

import numpy as np
import pytest

from replication import claims
from replication import chapters
from replication import verdict_files as verdicts
from replication.store import ResultStore, StoreError
from replication.runs import compute_all

TOY = textwrap.dedent('''
    import dataclasses
    from typing import ClassVar
    from replication.config import RunConfig

    @dataclasses.dataclass(frozen=True)
    class Shared(RunConfig):
        kind: ClassVar[str] = "shared"
        code: ClassVar[tuple] = ()
        x: float
''')
namespace: dict = {}
exec(TOY, namespace)
Shared = namespace["Shared"]


@pytest.fixture
def umask_002():
    old = os.umask(0o002)
    yield
    os.umask(old)


def test_a_group_shared_store_is_group_readable_and_writable(tmp_path, umask_002):
    root = tmp_path / "store"
    root.mkdir()
    os.chmod(root, 0o2775)                               # the README's setgid folder
    store = ResultStore(root)
    store.put(Shared(x=1.0), {"v": np.arange(3)}, wall_time=0.1)
    entry = store.entry_dir(Shared(x=1.0))
    assert stat.S_IMODE(entry.stat().st_mode) & 0o777 == 0o775
    assert entry.stat().st_mode & stat.S_ISGID, "the setgid bit of the store is kept (group inherited)"
    assert all(stat.S_IMODE(f.stat().st_mode) == 0o664 for f in entry.iterdir())
    checkpoint = store.checkpoint("train", ["a", "b"])
    checkpoint.save({"epoch": 1})
    assert stat.S_IMODE(checkpoint.path.stat().st_mode) == 0o664
    path = verdicts.save("toy", "smoke", [], store_root=root)
    assert stat.S_IMODE(path.stat().st_mode) == 0o664


def _as_other_user(fn) -> str:
    """``fn()`` (returning text) in a forked child that runs as uid/gid 65534 (needs root).  ``fn`` runs
    once as this user first, so every module it needs is already imported (the child execs nothing)."""
    if os.geteuid() != 0:
        pytest.skip("a second user needs root (os.setuid)")
    fn()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:                                          # the child: become the other user, report, leave
        try:
            os.close(read_end)
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            out = fn()
        except BaseException as error:                    # noqa: BLE001 - reported to the parent as text
            out = f"{type(error).__name__}: {error}"
        os.write(write_end, out.encode())
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as f:
        out = f.read().decode()
    os.waitpid(pid, 0)
    return out


@pytest.fixture
def shared_root():
    """A store folder a second user can reach (pytest's tmp_path is 0700)."""
    import shutil

    parent = Path(tempfile.mkdtemp(prefix="shared-store-"))
    os.chmod(parent, 0o755)
    yield parent / "store"
    shutil.rmtree(parent, ignore_errors=True)


def test_a_second_user_reads_what_the_first_stored(shared_root):
    old = os.umask(0o022)
    try:
        store = ResultStore(shared_root)
        store.put(Shared(x=2.0), {"v": np.arange(4)}, wall_time=0.1)
        verdicts.save("toy", "smoke", [], params={"n": 1}, store_root=shared_root)
    finally:
        os.umask(old)

    def read() -> str:
        got = ResultStore(shared_root).get(Shared(x=2.0))
        return f"{os.getuid()} {got.payload['v'].tolist()} {verdicts.load('toy', 'smoke', store_root=shared_root)['params']}"

    assert _as_other_user(read) == "65534 [0, 1, 2, 3] {'n': 1}"


def test_an_unreadable_entry_is_a_permission_problem_never_damage(shared_root):
    store = ResultStore(shared_root)
    store.put(Shared(x=3.0), {"v": np.arange(2)}, wall_time=0.1)
    entry = store.entry_dir(Shared(x=3.0))
    os.chmod(entry, 0o700)                               # as an old writer's mkdtemp left it

    def read() -> str:
        try:
            ResultStore(shared_root).get(Shared(x=3.0))
        except StoreError as error:
            return f"StoreError: {error}"
        return "read"

    if os.geteuid() == 0:
        message = _as_other_user(read)
    else:                                                # the owner's own permissions taken away
        os.chmod(entry, 0)
        try:
            message = read()
        finally:
            os.chmod(entry, 0o700)
    assert message.startswith("StoreError: permission denied at") and "damaged" not in message, message
    assert len(message.strip().splitlines()) == 1 and "umask 002" in message
    assert entry.is_dir() and not (shared_root / ".quarantine").exists(), "nothing quarantined"


# -- verdict files: sealed, tied to their results, recomputed when not trusted ------------------------
@pytest.fixture
def toy_chapter(monkeypatch, tmp_path):
    """A chapter 'toy' whose verdict is whether the sum of two stored results is positive; ``calls``
    counts its computations (a recomputation of verdicts must not add any)."""
    from replication import chapters
    from replication.params import ChapterSpec

    calls = []

    def compute(params, *, store=None, progress=True):
        def one(cfg):
            calls.append(cfg.x)
            return {"v": np.array([cfg.x])}
        return compute_all([Shared(x=1.0), Shared(x=2.0)], one, progress=False, store=store or ResultStore())

    def verdicts_fn(results, params):
        total = float(sum(r.payload["v"][0] for r in results))
        return [claims.Verdict(id="toy-sum-positive", claim=None, statement="the sum is positive", source="",
                               rule="holds when the sum > 0", outcome="holds" if total > 0 else "fails",
                               evidence={"sum": total}, chapter="toy", profile=params.profile)]

    toy = types.SimpleNamespace(SPEC=ChapterSpec("toy", "Toy", ()), compute=compute, verdicts=verdicts_fn)
    real_get, real_names = chapters.get, chapters.names
    monkeypatch.setattr(chapters, "get", lambda name: toy if name == "toy" else real_get(name))
    monkeypatch.setattr(chapters, "names", lambda: (*real_names(), "toy"))
    store = ResultStore(tmp_path / "store")
    from replication.chapters import resolve_spec as resolve

    params = resolve(toy.SPEC, "smoke")
    chapters.evaluate("toy", params, store=store, progress=False)
    return types.SimpleNamespace(store=store, params=params, calls=calls,
                                 path=verdicts.verdict_file("toy", "smoke", store.root))


def test_a_verdict_file_names_the_results_it_rests_on(toy_chapter):
    record = json.loads(toy_chapter.path.read_text())
    stored = {(s["kind"], s["key"]): s["payload_sha256"] for s in record["sources"]}
    for x in (1.0, 2.0):
        entry = toy_chapter.store.entry_dir(Shared(x=x))
        assert stored[("shared", entry.name)] == json.loads((entry / "record.json").read_text())["payload_sha256"]
    assert record["sha256"] == verdicts.seal(record)
    assert verdicts.check("toy", "smoke", store_root=toy_chapter.store.root).state == "valid"


def _flip_outcome(path: Path) -> None:
    record = json.loads(path.read_text())
    record["verdicts"][0]["outcome"] = "fails"           # what a hand edit does; the seal is left as it was
    path.write_text(json.dumps(record, indent=1))


def test_a_hand_edited_verdict_file_is_named_and_recomputed_without_training(toy_chapter):
    _flip_outcome(toy_chapter.path)
    found = verdicts.check("toy", "smoke", store_root=toy_chapter.store.root)
    assert found.state == "hand-edited" and found.record is None
    with pytest.warns(verdicts.VerdictFileWarning, match="hand-edited"):
        record = chapters.collect(["toy"], "smoke", store_root=toy_chapter.store.root)["toy"]
    assert record["verdicts"][0].outcome == "holds", "the stored results say holds, not the edit"
    assert toy_chapter.calls == [1.0, 2.0], "recomputing the verdicts trained nothing"
    assert verdicts.check("toy", "smoke", store_root=toy_chapter.store.root).state == "valid", "rewritten"


def test_the_claims_page_names_a_damaged_verdict_file(toy_chapter, monkeypatch):
    from replication.chapters import claims as page

    raw = bytearray(toy_chapter.path.read_bytes())
    raw[0:3] = b"\xff\x00}"                                   # three bytes flipped: not JSON any more
    toy_chapter.path.write_bytes(bytes(raw))
    assert verdicts.check("toy", "smoke", store_root=toy_chapter.store.root).state == "damaged"
    with pytest.warns(verdicts.VerdictFileWarning):
        record = page.compute(toy_chapter.params, store=toy_chapter.store)
    assert [v.id for v in record.stored["toy"]["verdicts"]] == ["toy-sum-positive"], "not read as absent"
    text = page.synthesis(record)
    assert "toy: its verdict file was damaged" in text and "recomputed from 2 stored results" in text


def test_a_stale_verdict_file_follows_the_changed_result(toy_chapter):
    store, cfg = toy_chapter.store, Shared(x=2.0)
    import shutil

    shutil.rmtree(store.entry_dir(cfg))
    store.put(cfg, {"v": np.array([-10.0])}, wall_time=0.1)  # the result it rests on changed
    found = verdicts.check("toy", "smoke", store_root=store.root)
    assert found.state == "stale" and "has changed" in found.problem
    with pytest.warns(verdicts.VerdictFileWarning, match="stale"):
        record = chapters.collect(["toy"], "smoke", store_root=store.root)["toy"]
    assert record["verdicts"][0].outcome == "fails" and record["verdicts"][0].evidence["sum"] == -9.0


def test_a_verdict_file_whose_results_are_gone_is_left_out_and_says_how_to_rebuild(toy_chapter):
    import shutil

    shutil.rmtree(toy_chapter.store.entry_dir(Shared(x=1.0)))
    with pytest.warns(verdicts.VerdictFileWarning, match="run toy"):
        found = chapters.collect_verdicts(["toy"], "smoke", store_root=toy_chapter.store.root)["toy"]
    assert found.state == "stale" and found.record is None and "is gone" in found.note
    assert toy_chapter.calls == [1.0, 2.0], "nothing was computed to repair it"


def test_export_says_what_it_did_with_an_untrusted_verdict_file(toy_chapter, tmp_path):
    from replication.export import export_chapter

    _flip_outcome(toy_chapter.path)
    done = export_chapter("toy", toy_chapter.params, tmp_path / "out", store=toy_chapter.store)
    assert "hand-edited" in done["note"] and "recomputed" in done["note"]
    written = json.loads((tmp_path / "out" / "toy" / "verdicts.json").read_text())
    assert written["verdicts"][0]["outcome"] == "holds"
    toy_chapter.path.unlink()
    done = export_chapter("toy", toy_chapter.params, tmp_path / "out2", store=toy_chapter.store)
    assert "verdicts.json not written" in done["note"] and "verdicts.json" not in done["files"]


def test_a_read_only_store_serves_a_stored_chapter_without_writing(toy_chapter, monkeypatch):
    from replication import chapters

    before = toy_chapter.path.stat()

    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(verdicts.tempfile, "mkstemp", read_only)
    monkeypatch.setattr(ResultStore, "check_writable", lambda self: read_only())
    _, served = chapters.evaluate("toy", toy_chapter.params, store=toy_chapter.store, progress=False)
    assert [v.outcome for v in served] == ["holds"] and toy_chapter.calls == [1.0, 2.0]
    after = toy_chapter.path.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns), "the file was not rewritten"


def test_a_verdict_file_round_trips_every_field_of_a_verdict(tmp_path):
    v = claims.Verdict(id="toy-a", claim=4, statement="s", source="src", rule="r", outcome="inconclusive",
                       evidence={"x": np.float64(0.5), "n": np.int64(3), "t": "text", "l": [1, 2.5]},
                       chapter="toy", profile="smoke", figure="fig-x", summary="sum")
    verdicts.save("toy", "smoke", [v], params={"etas": (0.1, 0.2)}, store_root=tmp_path)
    found = verdicts.check("toy", "smoke", store_root=tmp_path)
    assert found.state == "valid" and found.record["verdicts"] == [v]
    assert [dataclasses.asdict(x) for x in found.record["verdicts"]] == [dataclasses.asdict(v)]
