"""The one runner (replication.runs.run): dedupes, claims, computes, puts, waits for what other
processes hold, resumes after an interruption, and returns the right tally; executors run the unit
function it hands them; chapters.compute owns the store, the device check and the tally."""
import dataclasses
import os
import subprocess
import sys
import threading
import types
from typing import ClassVar

import pytest

from replication import executors, runs
from replication.config import RunConfig
from replication.store import ResultStore, Tally


@dataclasses.dataclass(frozen=True)
class Job(RunConfig):
    kind: ClassVar[str] = "job"
    x: int


class Work:
    """A unit function that records every unit it is given."""

    def __init__(self, fail_at: int | None = None):
        self.units, self.checkpoints, self.fail_at = [], [], fail_at

    def __call__(self, configs, tick, checkpoint=None):
        if self.fail_at is not None and any(c.x == self.fail_at for c in configs):
            self.fail_at = None
            raise KeyboardInterrupt                      # killed while this unit was in flight
        self.units.append([c.x for c in configs])
        self.checkpoints.append(checkpoint)
        tick(len(configs))
        return [{"square": c.x * c.x} for c in configs]


@pytest.fixture
def store(tmp_path):
    return ResultStore(tmp_path / "store")


def test_a_key_asked_for_twice_is_computed_once_and_counted_once(store):
    work = Work()
    configs = [Job(x=1), Job(x=2), Job(x=1), Job(x=3), Job(x=2)]
    results = runs.run(configs, work, store=store, progress=False)
    assert sorted(x for u in work.units for x in u) == [1, 2, 3]
    assert [r.payload["square"] for r in results] == [1, 4, 1, 9, 4]
    assert results[2] is results[0] and results[4] is results[1]
    assert (results.tally.stored, results.tally.computed) == (0, 3)
    again = runs.run(configs + [Job(x=4)], work, store=store, progress=False)
    assert work.units[-1] == [4] and [r.from_store for r in again] == [True] * 5 + [False]
    assert (again.tally.stored, again.tally.computed) == (3, 1)
    assert again.tally.wall_time == pytest.approx(again[-1].wall_time) and "3 stored, 1 computed" in str(again.tally)


def test_units_of_several_configs_get_a_checkpoint_dropped_once_they_are_stored(store):
    work = Work()
    configs = [Job(x=x) for x in range(5)]

    def pairs(cfgs, missing):
        return [missing[i:i + 2] for i in range(0, len(missing), 2)]

    results = runs.run(configs, work, store=store, plan=pairs, progress=False)
    assert work.units == [[0, 1], [2, 3], [4]]
    assert work.checkpoints[0] is not None and work.checkpoints[2] is None
    assert not work.checkpoints[0].path.exists()
    assert all(c in store for c in configs) and results.tally.computed == 5


def test_an_interrupted_grid_resumes_and_a_unit_claimed_elsewhere_is_waited_for(store):
    configs = [Job(x=x) for x in range(6)]
    work = Work(fail_at=3)
    with pytest.raises(KeyboardInterrupt):
        runs.run(configs, work, store=store, progress=False)
    assert [c in store for c in configs] == [True, True, True, False, False, False]
    assert not list((store.root / "job").glob(".*.claim")), "an interrupted unit releases its claims"
    # another process holds x = 4 and stores it a moment later: waited for, read, not computed here
    other = store.claim(configs[4])                  # a live process's claim (this one's pid, its own token)
    assert other.acquire()

    def other_process_finishes():
        store.put(configs[4], {"square": "theirs"}, wall_time=0.0)
        other.release()

    timer = threading.Timer(0.6, other_process_finishes)
    timer.start()
    resumed = runs.run(configs, work, store=store, progress=False)
    timer.join()
    assert work.units == [[0], [1], [2], [3], [5]]      # finished runs never recomputed, x = 4 not computed
    assert resumed[4].payload == {"square": "theirs"} and resumed[5].payload == {"square": 25}
    assert (resumed.tally.stored, resumed.tally.computed) == (4, 2)


def test_tallies_add_up_as_sets_and_counting_sees_every_runner_inside(store):
    work = Work()
    with runs.counting() as tally:
        first = runs.run([Job(x=1), Job(x=2)], work, store=store, progress=False)
        second = runs.compute_all([Job(x=2), Job(x=3)], lambda c: {"square": c.x ** 2}, store=store, progress=False)
    assert (first.tally.computed, second.tally.stored, second.tally.computed) == (2, 1, 1)
    # x = 2, computed by the first runner and read back by the second, counts once, as computed
    assert (tally.stored, tally.computed) == (0, 3)
    assert (first.tally + second.tally).seen == tally.seen
    assert tally.wall_time == pytest.approx(sum(r.wall_time for r in (first[0], first[1], second[1])))
    with runs.counting() as later:
        runs.run([Job(x=1), Job(x=9)], work, store=store, progress=False)
    assert (later.stored, later.computed) == (1, 1) and (tally.stored, tally.computed) == (0, 3)


def test_a_distributed_executor_runs_the_unit_function_it_is_handed(store):
    handed = []

    class Elsewhere(executors.LocalExecutor):
        distributed = True

        def map_units(self, work, units, on_done):
            for i, unit in enumerate(units):
                handed.append([c.x for c in unit])
                assert executors.call(work, unit) == [c.key for c in unit]   # the worker's entry point
                on_done(i)

    work = Work()
    configs = [Job(x=x) for x in (1, 2, 3)]
    results = runs.run(configs, work, store=store, progress=False, executor=Elsewhere())
    assert handed == [[1], [2], [3]] and work.units == [[1], [2], [3]]
    assert [r.payload["square"] for r in results] == [1, 4, 9] and all(c in store for c in configs)
    assert results.tally.computed == 3, "computed by the workers for this call"
    assert runs.run(configs, work, store=store, progress=False, executor=Elsewhere()).tally.stored == 3
    assert handed == [[1], [2], [3]], "nothing left to hand out"


def test_executors_import_nothing_that_computes():
    code = "import sys, replication.executors; print('replication.runs' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert out.stdout.strip() == "False"


# -- a chapter's compute: the common start and end ------------------------------------------------------
@dataclasses.dataclass
class ToyResults:
    squares: list


def _toy_chapter(monkeypatch, calls):
    from replication import chapters
    from replication.params import ChapterSpec, Param

    @dataclasses.dataclass
    class Counted(ToyResults, chapters.Counted):
        pass

    def compute(params, *, store, progress=True):
        calls.append(store)
        done = runs.compute_all([Job(x=1), Job(x=2), Job(x=1)], lambda c: {"square": c.x ** 2}, store=store,
                                progress=False)
        return Counted([r.payload["square"] for r in done])

    spec = ChapterSpec("toy", "Toy", (Param("device", "str", "device", choices=("cpu", "cuda")),))
    toy = types.SimpleNamespace(SPEC=spec, compute=compute)
    real_get = chapters.get
    monkeypatch.setattr(chapters, "get", lambda name: toy if name == "toy" else real_get(name))
    return toy


def test_chapters_compute_gives_the_default_store_and_the_tally(monkeypatch, tmp_path):
    from replication import chapters
    from replication.params import ChapterParams

    monkeypatch.setenv("REPLICATION_STORE", str(tmp_path / "default"))
    calls = []
    toy = _toy_chapter(monkeypatch, calls)
    params = ChapterParams("toy", "smoke", {"device": "cpu"}, {"device": "smoke"})
    res = chapters.compute("toy", params, progress=False)
    assert res.squares == [1, 4, 1] and calls[0].root == tmp_path / "default"
    assert (res.stored, res.computed) == (0, 2) and isinstance(res.tally, Tally)
    again = chapters.compute("toy", params, progress=False)
    assert (again.stored, again.computed) == (2, 0)
    bare = toy.compute(params, store=ResultStore(tmp_path / "default"))
    with pytest.raises(AttributeError, match="has no tally: compute a chapter with replication.chapters.compute"):
        bare.stored


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="this machine has CUDA")
def test_chapters_compute_refuses_cuda_where_there_is_none_before_anything_runs(monkeypatch, tmp_path):
    from replication import chapters
    from replication.params import ChapterParams, ParameterError

    calls = []
    _toy_chapter(monkeypatch, calls)
    params = ChapterParams("toy", "smoke", {"device": "cuda"}, {"device": "explicit"})
    with pytest.raises(ParameterError, match=r"^device='cuda': no CUDA device"):
        chapters.compute("toy", params, store=ResultStore(tmp_path / "store"), progress=False)
    assert calls == []


def test_a_page_counting_one_kind_reads_that_kind_of_the_tally():
    from replication import chapters

    @dataclasses.dataclass
    class JobsOnly(chapters.Counted):
        counted_kinds = (Job.kind,)
        n: int

    res = JobsOnly(n=3)
    res.tally = Tally({("job", "a" * 20): (True, 0.0), ("job", "b" * 20): (False, 1.0),
                       ("measure", "c" * 20): (False, 2.0)})
    assert (res.stored, res.computed) == (1, 1) and res.tally.computed == 2
    assert res.tally.of_kinds("measure").wall_time == 2.0
