"""The gpu and paper profiles before anyone pays for a GPU: every chapter's parameters resolve, every
training run they declare builds as a validated config, and each distinct network / input shape /
precision / layout / augmentation among them trains one SGD step on the CPU through the project's own
training path (``replication.runs.train_stored``, so ``replication.train.train``, into a temporary
store): the run's config shrunk by :func:`tiny` to 2 training examples, a batch of 2 and one epoch (so
exactly one step), 2 validation and test examples, and one Hessian probe on 2 examples where it
declares probes.  Everything else of the config (network and its options, dataset, augmentation,
precision, layout, learning rate and schedule, momentum, weight decay, label noise, target loss,
seeds) is the declared run's.

Data, offline (:func:`dry_run_data`, once per session):

- CIFAR-10: the JPEG stand-in (:mod:`replication.data.standin` finds the archive in the checkout's
  ``shared/data/`` or in ``../shared/data`` beside it), written in the official pickle layout into a temporary
  folder, of which a slice (:data:`STANDIN_SLICE` examples per batch) is what the runs load; accepted
  explicitly (``accept_unverified_data=True``), and every result trained on it must say
  ``canonical=False``.  Without the archive: random pixels in the same layout.
- Fashion-MNIST and MNIST: the real data where the loader finds it offline (the verified cache under
  ``REPLICATION_DATA_ROOT``; else a mirror or Debian's files, copied into a root of the session's,
  never into the data root), else random pixels.

Random pixels check the configuration and the network, not the data: a test that used them says so
with a :class:`DryRunDataWarning`.  Every test that trains records the data it used
(:func:`say_which_data`)."""
from __future__ import annotations

import contextlib
import dataclasses
import functools
import math
import shutil
import warnings

import pytest
import torch

from replication import chapters, paths, runs, train
from replication.chapters import resolve_spec as resolve
from replication.data import DataVerificationError, DatasetNotFoundError, load_dataset, standin
from replication.data.specs import FILES, SPECS

PROFILES = ("gpu", "paper")
STANDIN_SLICE = 4          # examples per training batch (5 batches) and test examples of the stand-in slice
RANDOM_SIZE = 16           # examples per batch / of the training split of random-pixel data


class DryRunDataWarning(UserWarning):
    """The dry run trained on random pixels: the stand-in or the real data was not found."""


@dataclasses.dataclass(frozen=True)
class Data:
    """Where the loader finds one dataset for the dry run."""
    env: dict               # the environment variables the loader reads, set while training on it
    accept: bool            # accept_unverified_data
    what: str               # what it is, for the test's output
    random: bool = False    # random pixels (no real images at all)
    standin: bool = False   # the CIFAR-10 JPEG stand-in


@contextlib.contextmanager
def loader_env(env: dict):
    """What the loader reads while the dry run loads a dataset: offline, no blanket acceptance of
    unverified data (the config's ``accept_unverified_data`` is the only one), and ``env``."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("REPLICATION_OFFLINE", "1")
        mp.delenv("REPLICATION_ACCEPT_UNVERIFIED", raising=False)
        for var, value in env.items():
            mp.setenv(var, value)
        yield


def _random(name: str, tmp, why: str) -> Data:
    mirror = tmp / f"random-{name}"
    standin.write_random(name, mirror, RANDOM_SIZE, RANDOM_SIZE)
    return Data({"REPLICATION_DATA_ROOT": str(tmp / "empty-root"), "REPLICATION_DATA_DIR": str(mirror)}, True,
                f"random pixels and labels ({why})", random=True)


def _idx(name: str, tmp) -> Data:
    """Fashion-MNIST or MNIST: the data root's verified cache as it is; else the loader's other offline
    places (a mirror, Debian's files) copied into a root of this session's, never into the data root;
    else random pixels."""
    cache = paths.data_root() / SPECS[name].folder / "raw"
    env = {} if all((cache / f).is_file() for f in FILES) else {"REPLICATION_DATA_ROOT": str(tmp / "data-root")}
    try:
        with loader_env(env):
            ds = load_dataset(name, allow_download=False, allow_unverified=False)
    except (DatasetNotFoundError, DataVerificationError) as error:
        return _random(name, tmp, f"no canonical {name} offline: {type(error).__name__}")
    return Data(env, False, f"canonical: {ds.source}")


def _cifar(tmp) -> Data:
    """The stand-in's pickle folder, written from the archive (about 10 s), sliced, then deleted; the
    runs load the slice, never a real CIFAR-10 of the data root's cache; else random pixels."""
    archive = standin.find_archive()
    if archive is None:
        return _random("cifar10", tmp, "no CIFAR-10 stand-in archive at " + " or ".join(map(str, standin.ARCHIVES)))
    full = standin.write_standin(archive, tmp / "standin-full")
    standin.slice_cifar(full, tmp / "standin", STANDIN_SLICE, STANDIN_SLICE)
    shutil.rmtree(tmp / "standin-full")
    return Data({"REPLICATION_DATA_ROOT": str(tmp / "empty-root"), "REPLICATION_DATA_DIR": str(tmp / "standin")},
                True, f"the CIFAR-10 JPEG stand-in from {archive}, first {STANDIN_SLICE} images of each batch",
                standin=True)


@pytest.fixture(scope="session")
def dry_run_data(tmp_path_factory) -> dict[str, Data]:
    """{dataset: Data}, once per session (see the module docstring)."""
    tmp = tmp_path_factory.mktemp("dry-run-data")
    return {"fashion-mnist": _idx("fashion-mnist", tmp), "mnist": _idx("mnist", tmp), "cifar10": _cifar(tmp)}


@functools.cache
def planned(chapter: str, profile: str) -> tuple:
    """The training runs ``chapter`` declares at ``profile`` (kept: planning the paper profile takes seconds)."""
    params = resolve(chapters.get(chapter).SPEC, profile)        # a bad profile value fails here, one line
    return tuple(chapters.planned_runs(chapter, params) or ())


def declared_runs(profile: str) -> tuple:
    return tuple(cfg for name in chapters.names() for cfg in planned(name, profile))


def shape_key(cfg) -> tuple:
    return (cfg.model, cfg.model_options, cfg.in_shape, cfg.n_classes, cfg.precision, cfg.channels_last, cfg.augment)


def tiny(cfg, data: Data):
    """``cfg`` as a one-step run on the CPU (see the module docstring); validated like any config."""
    probes = (dict(hessian_epochs=(1,), hessian_samples=2, hessian_max_iter=2) if cfg.hessian_epochs
              else dict(hessian_epochs=()))
    return dataclasses.replace(cfg, n_train=2, n_val=min(cfg.n_val, 2), n_test=2, batch_size=2, epochs=1,
                               device="cpu", accept_unverified_data=cfg.accept_unverified_data or data.accept,
                               **probes)


def trains_one_step(cfg, data: Data, store) -> None:
    """Train ``tiny(cfg)`` through the store on ``data``; one step that changed the parameters, finite
    losses, the probe it asked for, and data provenance that tells the stand-in and random pixels apart
    from canonical data."""
    small = tiny(cfg, data)
    with loader_env(data.env), warnings.catch_warnings():
        # the loader's notice that it accepted unverified data; the provenance check below is stricter
        warnings.filterwarnings("ignore", message="(?s).*Using it anyway", category=UserWarning)
        result = runs.train_stored(small, store)
    what = f"{small.describe()} {small.model_options} on {data.what}"
    out = result.payload
    assert not result.from_store and out["epochs_completed"] == 1 and out["history"]["steps"] == [1], what
    assert not out["diverged"], what
    assert math.isfinite(out["history"]["batch_loss"][0]) and math.isfinite(out["final"]["train_loss"]), what
    assert len(out["hessian"]) == len(small.hessian_epochs), what
    init = dict(train.build_model(small).named_parameters())
    assert any(not torch.equal(p.detach(), out["state_dict"][k]) for k, p in init.items()), \
        f"{what}: step changed nothing"
    prov = result.provenance["data"]
    assert prov["canonical"] is not data.accept, f"{what}: provenance {prov}"
    if data.standin:          # the stand-in never passes for CIFAR-10
        assert prov["canonical"] is False, f"{what}: provenance {prov}"
        assert prov["source"].startswith("NOT canonical CIFAR-10: lossy JPEG stand-in"), f"{what}: provenance {prov}"


@pytest.fixture
def say_which_data(request):
    """``say(used)``: the data ({dataset: Data}) a test trained on, as the test's property ``data`` (a
    ``--junitxml`` report lists it), and a :class:`DryRunDataWarning` for random pixels."""
    def say(used: dict[str, Data]) -> None:
        which = "; ".join(f"{name}: {d.what}" for name, d in sorted(used.items()))
        request.node.user_properties.append(("data", which))
        for name, d in sorted(used.items()):
            if d.random:
                warnings.warn(DryRunDataWarning(f"dry run of {name} on {d.what}"), stacklevel=2)
    return say


@pytest.mark.parametrize("profile", PROFILES)
def test_every_declared_run_of_the_profile_builds_and_trains_one_step(profile, dry_run_data, store, one_thread,
                                                                      say_which_data):
    declared = declared_runs(profile)
    assert declared, f"{profile}: no chapter declares its training runs"
    shapes: dict = {}
    for cfg in declared:
        shapes.setdefault(shape_key(cfg), cfg)
    for cfg in shapes.values():
        trains_one_step(cfg, dry_run_data[cfg.dataset], store)
    say_which_data({c.dataset: dry_run_data[c.dataset] for c in shapes.values()})


@pytest.mark.parametrize("profile", PROFILES)
def test_the_resnet_figures_are_declared_and_every_cifar_run_is_augmented(profile):
    """The appendix's Fig. 1 (sharpness) and Fig. 7 (invariance) run a ResNet on CIFAR-10 at this profile,
    so the step above covers their shapes; every CIFAR-10 run uses the paper's crop-and-flip augmentation."""
    declared = declared_runs(profile)
    for chapter, field in (("sharpness", "cifar_model"), ("invariance", "fig7_model")):
        model = resolve(chapters.get(chapter).SPEC, profile)[field]
        assert model.startswith("resnet"), f"{profile}: {chapter}.{field} = {model}"
        mine = [c for c in planned(chapter, profile) if c.model == model]
        assert mine and all(c.dataset == "cifar10" for c in mine), f"{profile}: {chapter} declares no {model} run"
    cifar = [c for c in declared if c.dataset == "cifar10"]
    assert cifar and all(c.augment for c in cifar), \
        f"{profile}: CIFAR-10 runs without augmentation: {sorted({c.model for c in cifar if not c.augment})}"


def test_the_laptop_fig7_network_takes_a_step(dry_run_data, store, one_thread, say_which_data):
    """The laptop analogue of Fig. 7 (a small CNN on Fashion-MNIST, vmapped over seeds) builds and steps."""
    params = resolve(chapters.get("invariance").SPEC, "laptop")
    laptop = [c for c in chapters.planned_runs("invariance", params) if c.model == params.fig7_model]
    assert params.fig7_model == "small_cnn" and laptop
    for cfg in {shape_key(c): c for c in laptop}.values():
        trains_one_step(cfg, dry_run_data[cfg.dataset], store)
    say_which_data({c.dataset: dry_run_data[c.dataset] for c in laptop})
