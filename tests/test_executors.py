"""Executors: the same grid through Ray and through submitit gives the results of the local run, a
killed worker loses at most its own task, and bad options fail in one line."""
import pytest
import torch

from replication import executors
from replication.runs import grid, train_all
from replication.store import ResultStore
from replication.train import TrainConfig


def _grid():
    base = TrainConfig(dataset="fashion-mnist", n_train=256, n_val=128, n_test=128, model="mlp",
                       model_options={"hidden": (8,)}, epochs=1, batch_size=64)
    # two units: an ensemble at batch size 64 and one at 128 (ensembles share the batch size)
    return grid(base, batch_size=[64, 128], lr=[0.05], seed=[0, 1])


def _same(a, b):
    assert [r.key for r in a] == [r.key for r in b]
    for x, y in zip(a, b):
        assert x.payload["history"]["train_loss"] == y.payload["history"]["train_loss"]
        assert all(torch.equal(x.payload["state_dict"][k], y.payload["state_dict"][k]) for k in x.payload["state_dict"])


@pytest.fixture(scope="module")
def local_results(tmp_path_factory):
    torch.set_num_threads(1)
    return train_all(_grid(), store=ResultStore(tmp_path_factory.mktemp("local")), progress=False)


def test_bad_options_fail_in_one_line():
    with pytest.raises(executors.ExecutorError, match=r"^executor='rayy': must be one of local, ray, slurm$"):
        executors.make("rayy")
    with pytest.raises(executors.ExecutorError, match=r"^adress='auto': not an option of the ray executor"):
        executors.make("ray", adress="auto")
    with pytest.raises(executors.ExecutorError, match=r"^cluster='pbs'"):
        executors.make("slurm", cluster="pbs")
    assert isinstance(executors.make("local"), executors.LocalExecutor)


def test_resources_give_small_gpu_models_a_fraction():
    from types import SimpleNamespace

    assert executors.resources([_grid()[0]]) == {"num_cpus": 1, "num_gpus": 0}
    assert executors.resources([SimpleNamespace(device="cuda", model="mlp")])["num_gpus"] == 0.25
    assert executors.resources([SimpleNamespace(device="cuda:0", model="vgg11")])["num_gpus"] == 1


@pytest.fixture(scope="module")
def ray_cluster():
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield executors.RayExecutor(max_retries=3)
    ray.shutdown()


def test_ray_grid_equals_the_local_run(ray_cluster, local_results, tmp_path):
    _same(local_results, train_all(_grid(), store=ResultStore(tmp_path), progress=False, executor=ray_cluster))


def test_a_killed_ray_worker_loses_at_most_its_task(ray_cluster, local_results, tmp_path):
    store = ResultStore(tmp_path / "store")
    store.root.mkdir(parents=True)
    (store.root / ".kill-once").touch()          # the first worker of the seed-1 unit dies abruptly
    results = train_all(_grid(), store=store, progress=False, executor=ray_cluster)
    assert (store.root / ".killed").exists(), "a worker was killed"
    _same(local_results, results)
    entries = list((tmp_path / "store").glob("*/*/record.json"))
    assert len(entries) == len(_grid()), "every run stored exactly once"


def test_submitit_local_executor_runs_the_same_grid(local_results, tmp_path):
    pytest.importorskip("submitit")
    executor = executors.make("slurm", cluster="local", folder=str(tmp_path / "jobs"))
    _same(local_results, train_all(_grid(), store=ResultStore(tmp_path / "store"), progress=False, executor=executor))


def test_use_sets_the_executor_of_every_train_all(tmp_path, local_results):
    calls = []

    class Recording(executors.LocalExecutor):
        distributed = True

        def map_units(self, work, units, on_done):
            calls.append(len(units))
            for i, u in enumerate(units):
                work(u)                                  # the unit function the runner handed over
                on_done(i)

    with executors.use(Recording()):
        _same(local_results, train_all(_grid(), store=ResultStore(tmp_path), progress=False))
    assert calls == [2]
    assert isinstance(executors.current(), executors.LocalExecutor) and not executors.current().distributed


def test_slurm_without_sbatch_refuses_before_anything_runs(monkeypatch, tmp_path):
    pytest.importorskip("submitit")
    monkeypatch.setenv("PATH", str(tmp_path))            # no sbatch here
    with pytest.raises(executors.ExecutorError, match=r"^executor='slurm': no 'sbatch' on the PATH.*--cluster local"):
        executors.make("slurm", partition="gpu")
    debug = executors.make("slurm", cluster="local", folder=str(tmp_path / "jobs"))
    assert "debug mode" in debug.describe() and "no Slurm" in debug.describe()


@pytest.mark.parametrize("name, option, value", [("slurm", "time_min", -5), ("slurm", "gpus_per_job", -1),
                                                  ("slurm", "cpus_per_job", 0), ("ray", "num_cpus", -2),
                                                  ("ray", "max_retries", 1.5), ("slurm", "partition", "")])
def test_every_executor_option_is_bounded(name, option, value):
    pytest.importorskip("ray" if name == "ray" else "submitit")
    extra = {"cluster": "local"} if name == "slurm" else {}
    with pytest.raises(executors.ExecutorError, match=rf"^{option}={value!r}: must be"):
        executors.make(name, **extra, **{option: value})


def test_cli_rejects_a_bad_executor_option_in_one_line(capsys):
    from replication.cli import main

    assert main(["run", "sde", "--profile", "smoke", "--executor", "ray", "--cpus", "-2"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: num_cpus=-2: must be an integer") and len(err.strip().splitlines()) == 1


def test_an_unreachable_ray_cluster_is_refused_before_anything_runs():
    pytest.importorskip("ray")
    with pytest.raises(executors.ExecutorError, match=r"^address='127.0.0.1:1': no Ray cluster reachable"):
        executors.make("ray", address="127.0.0.1:1")


def test_failed_units_come_back_one_line_each_with_their_log(tmp_path, capsys):
    pytest.importorskip("submitit")
    from replication.cli import main

    store = ResultStore(tmp_path / "store")
    store.root.mkdir(parents=True)
    (store.root / ".kill-once").touch()              # the seed-1 unit's worker dies (a lost node)
    executor = executors.make("slurm", cluster="local", folder=str(tmp_path / "jobs"))
    with pytest.raises(executors.JobsFailed) as failed:
        train_all(_grid(), store=store, progress=False, executor=executor)
    assert len(failed.value.failures) == 1
    line = failed.value.failures[0]
    assert line.startswith("unit ") and "log: " in line and "\n" not in line
    log = line.rsplit("log: ", 1)[1]
    assert log.startswith(str(tmp_path / "jobs")) and log.endswith(".err")
    assert len(list(store.root.glob("train/*/record.json"))) == 2, "the other unit's runs are stored"

    class Failing:
        distributed = True

        def describe(self):
            return "failing"

    def boom(*args, **kwargs):
        raise failed.value

    import replication.executors as module
    real_make = module.make
    module.make = lambda *a, **k: Failing()
    try:
        import replication.cli as cli
        real_train = cli._train_planned
        cli._train_planned = boom
        assert main(["run", "sde", "--profile", "smoke", "--no-progress"]) == 2
    finally:
        module.make = real_make
        cli._train_planned = real_train
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0].startswith("error: 1 of 2 submitit local units failed") and err[1] == f"  {line}"
    assert "Traceback" not in "\n".join(err)
