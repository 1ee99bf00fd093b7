"""Code digests that match what runs: a run's key covers the executable content of the modules its
computation executes, named module by module (replication.config)."""
import dataclasses
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import ClassVar

import pytest

from replication.config import (ConfigError, RunConfig, clear_code_digests, code_digest, code_files,
                                executable_source)

PACKAGE = Path(__file__).resolve().parents[1] / "replication"


@pytest.fixture
def kernel(tmp_path, monkeypatch):
    """An importable copy of ``replication/sde/double_well.py`` named ``digest_kernel`` (edited by the tests)."""
    path = tmp_path / "digest_kernel.py"
    path.write_text((PACKAGE / "sde" / "double_well.py").read_text(encoding="utf-8")
                    .replace("from .common import", "from replication.sde.common import"), encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    clear_code_digests()
    yield path
    clear_code_digests()


def _digest_after(path: Path, old: str, new: str) -> str:
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, old
    path.write_text(text.replace(old, new), encoding="utf-8")
    clear_code_digests()
    return code_digest(("digest_kernel",))


def test_docstring_comment_and_blank_line_edits_leave_the_digest_alone(kernel):
    before = code_digest(("digest_kernel",))
    # module, class and function docstrings
    assert _digest_after(kernel, "Which minimum wins:", "Which of two minima wins:") == before
    assert _digest_after(kernel, "which equals min(q_A, q_B) up to", "which is min(q_A, q_B) up to") == before
    assert _digest_after(kernel, "Laplace approximation of P(A)", "The Laplace approximation of P(A)") == before
    # comments, blank lines, a line break inside an expression
    assert _digest_after(kernel, "    if isinstance(init, str):\n",
                         "    # a named start, or a number\n\n    if isinstance(init, str):  # str\n") == before
    assert _digest_after(kernel, "    return 4.0 * depth_gap / log_curvature_ratio",
                         "    return (4.0 * depth_gap\n            / log_curvature_ratio)") == before


@pytest.mark.parametrize("old, new", [
    ("    return 4.0 * depth_gap / log_curvature_ratio", "    return 4.0 * depth_gap / log_curvature_ratio + 0.0"),
    ("reach = 12.0 * math.sqrt", "reach = 13.0 * math.sqrt"),
    ("    tau: float = 0.05", "    tau: float = 0.06"),                     # a class attribute (a default)
])
def test_an_edit_to_executed_code_changes_the_digest(kernel, old, new):
    before = code_digest(("digest_kernel",))
    assert _digest_after(kernel, old, new) != before


def test_a_string_statement_that_is_not_a_docstring_counts(kernel):
    before = code_digest(("digest_kernel",))
    assert _digest_after(kernel, "    depth_gap = well.L_A - well.L_B\n",
                         "    depth_gap = well.L_A - well.L_B\n    'not a docstring'\n") != before


def test_a_docstring_only_body_is_a_pass_and_the_dump_ignores_python_version_defaults(tmp_path):
    a, b = tmp_path / "a.py", tmp_path / "b.py"
    a.write_text('def f():\n    """Nothing."""\n')
    b.write_text("def f():\n    pass\n")
    assert executable_source(a) == executable_source(b)
    assert "type_params" not in executable_source(a) and "None" not in executable_source(a)


def test_code_names_modules_not_packages():
    @dataclasses.dataclass(frozen=True)
    class Wide(RunConfig):
        kind: ClassVar[str] = "wide"
        code: ClassVar[tuple] = ("replication.hessian",)

    with pytest.raises(ConfigError, match=r"code='replication.hessian': a package; name the modules"):
        Wide().key
    names = [name for name, _ in code_files(("replication.hessian.__init__", "replication.hessian.eigen"))]
    assert names == ["replication.hessian.__init__", "replication.hessian.eigen"]


# -- the code lists match what runs ------------------------------------------------------------------
#: modules that only key, stamp or store results, or fetch data files (verified by checksum); see
#: replication.config
#: modules a class may list although no function of theirs runs in the tiny cases below: constants
#: (dataset specs), result dataclasses (their generated methods carry no file name), CIFAR-10's loader
#: and augmentation (a config's ``code`` covers every dataset), and package ``__init__`` files
#: (the names the computation imports resolve through them)
LISTED_WITHOUT_A_CALL = ("replication.data.specs", "replication.hessian.results", "replication.data.cifar",
                         "replication.data.augment")
NOT_IN_CODE = ("replication.config", "replication.provenance", "replication.paths", "replication.store",
               "replication.runs", "replication.executors", "replication.assets", "replication.data.npm")

TINY_TRAIN = ("TrainConfig(n_train=96, n_val=32, n_test=64, label_noise=0.25, model='mlp', "
              "model_options={'hidden': (8,)}, lr=0.1, batch_size=32, epochs=2, hessian_epochs=(0, 2), "
              "hessian_samples=48, hessian_max_iter=6EXTRA)")

#: forget the data loaded while training the network a case measures: the measurement loads its own
FRESH_DATA = ("from replication.train import setup\nfrom replication import data\n"
              "setup._DATA_CACHE.clear()\ndata.clear_memo()\n")

#: kind -> (setup: imports and config ``cfg`` made before tracing, the traced computation)
CASES = {
    # a training run is computed alone or as a member of a vmapped ensemble (same key either way)
    "train": ("from replication.train import TrainConfig, train\nfrom replication.ensemble import train_ensemble\n"
              f"cfgs = [{TINY_TRAIN.replace('EXTRA', ', seed=0')}, {TINY_TRAIN.replace('EXTRA', ', seed=1')}]\n"
              "cfg = cfgs[0]",
              "train(cfg)\ntrain_ensemble(cfgs)"),
    "measure": ("from replication.train import TrainConfig, train\n"
                "from replication.measure import MeasureConfig, measure\n"
                f"tcfg = {TINY_TRAIN.replace('EXTRA', '')}\npayload = train(tcfg)\n"
                + FRESH_DATA +
                "cfg = MeasureConfig(train_key=tcfg.key, n_samples=64, lanczos_max_iter=6, trace_hvp=6, "
                "frobenius_probes=2)",
                "measure(cfg, tcfg, payload)"),
    "sde-quadratic": ("from replication.chapters.sde.experiment import QuadraticRun, run_quadratic\n"
                      "cfg = QuadraticRun(dim=3, lam_min=0.5, lam_max=2.0, eta=0.1, batch_size=4, n_chains=4, "
                      "burn_in_time=1.0, measure_time=1.0, seed=0)",
                      "run_quadratic(cfg)"),
    "sde-regression": ("from replication.chapters.sde.experiment import RegressionRun, run_regression\n"
                       "cfg = RegressionRun(loss='logistic', n_examples=40, dim=3, noise_std=1.0, eta=0.2, "
                       "batch_size=4, n_chains=4, burn_in_time=1.0, measure_time=1.0, seed=0)",
                       "run_regression(cfg)"),
    "sde-double-well": ("from replication.chapters.sde.experiment import DoubleWellRun, run_double_well\n"
                        "cfg = DoubleWellRun(eta=0.1, sigma2=1.0, batch_size=4, n_chains=4, burn_in_time=1.0, "
                        "measure_time=2.0, seed=0)",
                        "run_double_well(cfg)"),
    "width-validation": ("from replication.chapters.width.experiment import ValidationRun, run_validation\n"
                         "cfg = ValidationRun(model='mlp-relu', n_samples=8, probes=6, coverage_seeds=2, "
                         "coverage_probes=6)",
                         "run_validation(cfg)"),
    "width-coverage-control": ("from replication.chapters.width.coverage import CoverageControlRun, "
                               "run_coverage_control\n"
                               "cfg = CoverageControlRun(model='mlp-relu', n_samples=8, coverage_seeds=2, "
                               "coverage_probes=6)",
                               "run_coverage_control(cfg)"),
    "invariance-noise-scale": ("from replication.train import TrainConfig, train\n"
                               "from replication.chapters.invariance.experiment import NoiseScaleRun, measure_noise\n"
                               f"tcfg = {TINY_TRAIN.replace('EXTRA', '')}\npayload = train(tcfg)\n"
                               + FRESH_DATA +
                               "cfg = NoiseScaleRun(train_key=tcfg.key, n_samples=16)",
                               "measure_noise(cfg, tcfg, payload)"),
    "interpolation-line": ("from replication.train import TrainConfig, train\n"
                           "from replication.chapters.interpolation.experiment import LineRun, run_line\n"
                           f"a = {TINY_TRAIN.replace('EXTRA', ', seed=0')}\n"
                           f"b = {TINY_TRAIN.replace('EXTRA', ', seed=1')}\n"
                           "pa, pb = train(a), train(b)\n"
                           + FRESH_DATA +
                           "cfg = LineRun(train_key_a=a.key, train_key_b=b.key, alphas=(0.0, 0.5, 1.0), "
                           "bn_samples=16, eval_train=32)",
                           "run_line(cfg, a, pa, pb)"),
    "interpolation-endpoint": ("from replication.train import TrainConfig, train\n"
                               "from replication.chapters.interpolation.experiment import EndpointRun, run_endpoint\n"
                               f"tcfg = {TINY_TRAIN.replace('EXTRA', '')}\npayload = train(tcfg)\n"
                               + FRESH_DATA +
                               "cfg = EndpointRun(train_key=tcfg.key, bn_samples=16, eval_train=32, "
                               "hessian_samples=32, lanczos_max_iter=6, directions=1, direction_points=3)",
                               "run_endpoint(cfg, tcfg, payload)"),
    # these two hold their training run by its fields and train it when it is not stored (here: not)
    "width-convergence": ("from replication.train import TrainConfig, TRAIN_CODE\n"
                          "from replication.store import ResultStore\n"
                          "from replication.chapters.width.experiment import ConvergenceRun, run_convergence, _items\n"
                          f"cfg = ConvergenceRun(train=_items({TINY_TRAIN.replace('EXTRA', '')}), n_samples=16, "
                          "top_k=1, max_hvp=4, power_tols=(0.1,), power_max_iter=4)\nconsumed = TRAIN_CODE",
                          "run_convergence(cfg, ResultStore())"),
    "width-samples": ("from replication.train import TrainConfig, TRAIN_CODE\n"
                      "from replication.store import ResultStore\n"
                      "from replication.chapters.width.experiment import SampleRun, run_samples, _items\n"
                      f"cfg = SampleRun(train=_items({TINY_TRAIN.replace('EXTRA', '')}), n_samples=16, draw=0, "
                      "lanczos_tol=1e-2, trace_hvp=6, frobenius_probes=2, hvp_repeats=1)\nconsumed = TRAIN_CODE",
                      "run_samples(cfg, ResultStore())"),
}

HARNESS = '''
import json, sys
before = set(sys.modules)
import replication.config
{setup}
PKG = replication.config.__file__.rsplit("/", 1)[0] + "/"
ran, importing = set(), [0]

def profile(frame, event, arg):
    code = frame.f_code
    if event == "call":
        if code.co_name == "<module>":
            importing[0] += 1
        elif not importing[0] and code.co_filename.startswith(PKG):
            ran.add(code.co_filename[len(PKG):])
    elif event == "return" and code.co_name == "<module>":
        importing[0] -= 1

sys.setprofile(profile)
{compute}
sys.setprofile(None)
json.dump({{"code": list(type(cfg).code_modules()), "consumed": list(globals().get("consumed", ())),
           "imported": sorted(set(sys.modules) - before),
           "ran": sorted(ran)}}, sys.stdout)
'''


def _module_name(relative: str) -> str:
    name = "replication." + relative[:-3].replace("/", ".")
    return name[: -len(".__init__")] + ".__init__" if name.endswith(".__init__") else name


def _exempt(name: str) -> bool:
    return any(name == m or name.startswith(m + ".") for m in NOT_IN_CODE)


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_config_s_code_lists_the_modules_its_computation_executes(case, tmp_path):
    """In a fresh interpreter: every module whose functions ran while the payload was computed is in
    the class's ``code`` (unless it only keys, stamps or stores results); every module in ``code`` had
    a function run (but for ``LISTED_WITHOUT_A_CALL`` and package files) and was imported."""
    setup, compute = CASES[case]
    script = HARNESS.format(setup=setup, compute=compute)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "REPLICATION_STORE": str(tmp_path / "store"),
           "PYTHONPATH": os.pathsep.join([str(PACKAGE.parent), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(done.stdout)
    code = set(found["code"])
    ran = {_module_name(f) for f in found["ran"]}
    missing = sorted(m for m in ran if m not in code and m.removesuffix(".__init__") not in code and not _exempt(m))
    assert not missing, f"{case}: code ran in modules its config's code does not list: {missing}"
    idle = sorted(m for m in code - ran - set(found["consumed"])
                  if not m.endswith(".__init__") and m not in LISTED_WITHOUT_A_CALL)
    assert not idle, f"{case}: code lists modules none of whose functions ran: {idle}"
    imported = set(found["imported"])
    not_imported = sorted(m for m in code if m.removesuffix(".__init__") not in imported)
    assert not not_imported, f"{case}: code lists modules the computation never imports: {not_imported}"
    assert not any(_exempt(m) for m in code), f"{case}: code lists bookkeeping modules"
