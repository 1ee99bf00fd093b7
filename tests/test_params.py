"""Parameters: profile → explicit overrides → validated values; bad input fails with one line."""
import subprocess
import sys

import pytest
import yaml

from replication import chapters, profiles
from replication.notebook import injected_names
from replication.chapters import resolve_spec as resolve
from replication.params import Param, ParameterError, parse_assignments
from replication.runs import compute_all

SPEC = chapters.get("sde").SPEC


def test_every_profile_resolves_every_chapter():
    for profile in profiles.NAMES:
        for name in chapters.names():
            params = resolve(chapters.get(name).SPEC, profile)
            assert set(params) == set(chapters.get(name).SPEC.names)


def test_profiles_override_laptop_and_explicit_overrides_profile():
    smoke = resolve(SPEC, "smoke")
    laptop = resolve(SPEC, "laptop")
    assert smoke.seeds != laptop.seeds and smoke.sources["seeds"] == "smoke"
    # smoke inherits what it does not set
    assert smoke.quad_lam_max == laptop.quad_lam_max
    explicit = resolve(SPEC, "smoke", {"seeds": 7, "quad_ratios": "[0.001, 0.003]"})
    assert explicit.seeds == 7 and explicit.sources["seeds"] == "explicit"
    assert explicit.quad_ratios == (0.001, 0.003)  # lists given as text (papermill -p) are parsed


@pytest.mark.parametrize("explicit, pattern", [
    ({"seeds": -1}, r"^seeds=-1: must be an integer, in \[2, 1000\]"),
    ({"seeds": 2.5}, r"^seeds=2.5: must be an integer"),
    ({"seeds": True}, r"^seeds=True: must be an integer"),
    ({"chains": "many"}, r"^chains='many': must be an integer"),
    ({"quad_ratios": [0.1, -1]}, r"^quad_ratios=\[0.1, -1\]: must be a list of numbers"),
    ({"quad_batch_sizes": [4]}, r"at least 2 entries"),
    ({"reg_losses": ["quadratic"]}, r"one of linear, logistic"),
    ({"nonsense": 1}, r"^nonsense=1: unknown parameter of chapter 'sde'; allowed: profile, seeds"),
    ({"well_eta": 0.5}, r"^well_eta=0.5: must be < 0.25"),
    ({"reg_batch_sizes": [4, 5000]}, r"every batch size must be <= reg_examples=500"),
])
def test_bad_values_name_parameter_value_and_what_is_allowed(explicit, pattern):
    with pytest.raises(ParameterError, match=pattern) as info:
        resolve(SPEC, "laptop", explicit)
    assert "\n" not in str(info.value)


def test_unknown_profile_and_user_profile_file(tmp_path):
    with pytest.raises(ParameterError, match=r"^profile='huge': must be one of smoke, laptop, gpu, paper"):
        resolve(SPEC, "huge")
    mine = tmp_path / "mine.yml"
    mine.write_text(yaml.safe_dump({"base": "smoke", "chapters": {"sde": {"seeds": 3}}}))
    params = resolve(SPEC, str(mine))
    assert params.seeds == 3 and params.chains == resolve(SPEC, "smoke").chains
    loop = tmp_path / "loop.yml"
    loop.write_text(yaml.safe_dump({"base": str(loop), "chapters": {}}))
    with pytest.raises(ParameterError, match="loops"):
        resolve(SPEC, str(loop))


def test_bounds_are_inclusive_and_types_coerce():
    p = Param("x", "float", "h", low=0, high=1)
    assert p.coerce(1) == 1.0 and isinstance(p.coerce(1), float)
    with pytest.raises(ParameterError):
        p.coerce(1.0000001)
    assert Param("n", "int", "h").coerce(3) == 3
    with pytest.raises(ParameterError, match=r"^n=3.0: must be an integer"):    # a float is not an integer
        Param("n", "int", "h").coerce(3.0)
    with pytest.raises(ParameterError):
        Param("b", "bool", "h").coerce(1)


def test_parse_assignments():
    assert parse_assignments(["a=1", "b=[1, 2]", "c=text"]) == {"a": 1, "b": [1, 2], "c": "text"}
    with pytest.raises(ParameterError, match="NAME=VALUE"):
        parse_assignments(["oops"])


def test_injected_cell_detection():
    source = "# Parameters\nprofile = \"smoke\"\nseeds = 8\n"
    assert injected_names(source) == {"profile", "seeds"}
    assert injected_names("profile = 'laptop'\nseeds = 8") is None


def test_chapter_params_from_a_notebook_namespace(monkeypatch):
    from replication import notebook

    laptop = profiles.chapter_values("laptop", "sde")
    namespace = {"profile": "smoke", **laptop}
    # nothing injected, nothing edited: the smoke profile's values
    monkeypatch.setitem(notebook._state, "injected", set())
    assert notebook.chapter_params("sde", namespace).seeds == resolve(SPEC, "smoke").seeds
    # a value equal to the laptop default but injected by papermill is explicit
    monkeypatch.setitem(notebook._state, "injected", {"profile", "seeds"})
    assert notebook.chapter_params("sde", namespace).seeds == laptop["seeds"]
    # a value edited in the parameters cell is explicit
    monkeypatch.setitem(notebook._state, "injected", set())
    assert notebook.chapter_params("sde", {**namespace, "chains": 33}).chains == 33
    monkeypatch.setitem(notebook._state, "injected", {"profile", "sedes"})
    with pytest.raises(ParameterError, match="^sedes=None: unknown parameter"):
        notebook.chapter_params("sde", namespace)


def test_cli_rejects_bad_parameter_before_any_compute(tmp_path):
    env = {"REPLICATION_STORE": str(tmp_path / "store"), "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-m", "replication", "run", "sde", "-p", "seeds=0"],
                         capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [
        "error: seeds=0: must be an integer, in [2, 1000] (independent repetitions of every setting "
        "(confidence intervals are over them))"]
    assert not (tmp_path / "store").exists()
    out = subprocess.run([sys.executable, "-m", "replication", "run", "nochapter"], capture_output=True,
                         text=True, env=env, timeout=60)
    assert out.returncode == 2 and "chapter='nochapter': must be one of intro, sde" in out.stderr


def test_cli_params_file(tmp_path):
    f = tmp_path / "p.yml"
    f.write_text("sde: {seeds: 9}\n")
    out = subprocess.run([sys.executable, "-m", "replication", "params", "sde", "--profile", "smoke", "-f", str(f)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "| seeds | 9 | explicit |" in out.stdout and "| chains | 16 | smoke |" in out.stdout


# -- profiles are validated like parameters; every CLI error is one line -------------------------------
@pytest.mark.parametrize("text, pattern", [
    ("base: smoke\nchapters:\n  sde:\n    seedz: 5\n", r"chapters\.sde\.seedz: unknown parameter; allowed: seeds"),
    ("base: smoke\nchapterz: {}\n", r"unknown key 'chapterz'; allowed: description, base, chapters"),
    ("chapters:\n  nochapter: {seeds: 3}\n", r"chapters\.nochapter: unknown chapter; chapters: intro, sde"),
    ("chapters:\n  sde: {seeds: [1\n", r"not valid YAML \(line 3, column 1: "),
    ("chapters:\n  sde: {seeds: -1}\n", r"chapters\.sde\.seeds=-1: must be an integer"),
    ("chapters:\n  sde: [seeds]\n", r"chapters\.sde: must be a mapping"),
])
def test_a_bad_profile_file_is_one_line_naming_the_file_and_key(tmp_path, capsys, text, pattern):
    from replication.cli import main as cli_main

    mine = tmp_path / "mine.yml"
    mine.write_text(text)
    with pytest.raises(ParameterError, match=pattern) as info:
        chapters.resolve("sde", str(mine))          # the registry checks the whole file
    assert str(mine) in str(info.value) and "\n" not in str(info.value)
    assert cli_main(["params", "sde", "--profile", str(mine)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: profile=") and str(mine) in err and err.count("\n") == 1


def test_profile_validation_knows_every_listed_chapter(tmp_path):
    for name in chapters.names():
        spec = chapters.get(name).SPEC
        mine = tmp_path / f"{name}.yml"
        typo = (spec.names[0] if spec.names else "x") + "_typo"
        mine.write_text(yaml.safe_dump({"chapters": {name: {typo: 1}}}))
        with pytest.raises(ParameterError, match=rf"chapters\.{name}\.{typo}: unknown parameter"):
            resolve(chapters.get(name).SPEC, str(mine))       # its own section, without the registry
        other = next(n for n in chapters.names() if n != name)
        with pytest.raises(ParameterError, match=rf"chapters\.{name}\.{typo}: unknown parameter"):
            chapters.resolve(other, str(mine))                 # a typo in any section stops every chapter


def test_the_profile_reader_knows_no_chapter(tmp_path):
    """profiles reads YAML and checks its shape only: an unknown chapter or parameter is the
    registry's to refuse (chapters.check_profile), a section that is not a mapping is its own."""
    mine = tmp_path / "mine.yml"
    mine.write_text(yaml.safe_dump({"chapters": {"nochapter": {"x": 1}, "sde": {"seedz": 1}}}))
    assert profiles.chapter_values(str(mine), "nochapter") == {"x": 1}
    with pytest.raises(ParameterError, match=r"chapters\.nochapter: unknown chapter"):
        chapters.check_profile(str(mine))
    with pytest.raises(ParameterError, match=r"chapters\.sde\.seedz: unknown parameter"):
        resolve(SPEC, str(mine))
    # the file that says it is named, also when it is the base of another
    top = tmp_path / "top.yml"
    top.write_text(yaml.safe_dump({"base": str(mine), "chapters": {}}))
    with pytest.raises(ParameterError, match=rf"^profile={str(mine)!r}: chapters\.nochapter"):
        chapters.check_profile(str(top))
    for name in profiles.NAMES:
        chapters.check_profile(name)                   # the shipped profiles are valid


def test_shared_builders_and_cross_parameter_rules():
    from replication import params as P

    assert P.device("h") == Param("device", "str", "h", choices=("cpu", "cuda"))
    assert P.seeds("h").coerce(2) == 2
    with pytest.raises(ParameterError, match=r"^seeds=1: must be an integer, in \[2, 1000\] \(h\)$"):
        P.seeds("h").coerce(1)
    with pytest.raises(ParameterError, match=r"^lanczos_tol=0.6: must be a number, in \[1e-10, 0.5\]"):
        P.lanczos_tol().coerce(0.6)
    assert P.cuda_refusal("cpu") is None
    P.check_device("cpu")
    values = {"n_train": 100, "n_val": 20, "hessian_samples": 100, "batch_sizes": (10, 100), "lo": 1.0, "hi": 2.0,
              "augment": False, "dataset": "mnist"}
    P.check_at_most(values, ("hessian_samples",))          # equal is allowed
    P.check_largest_at_most(values, "batch_sizes")
    P.check_split(values, 120)
    P.check_increasing_pair(values, "lo", "hi")
    P.check_augment(values)
    for call, pattern in [
        (lambda: P.check_at_most({**values, "hessian_samples": 101}, ("hessian_samples",)),
         r"^hessian_samples=101: must be <= n_train=100$"),
        (lambda: P.check_largest_at_most({**values, "batch_sizes": (10, 101)}, "batch_sizes"),
         r"^batch_sizes=\[10, 101\]: every batch size must be <= n_train=100$"),
        (lambda: P.check_split(values, 119, note="mnist"), r"^n_train=100: n_train \+ n_val must be <= 119 \(mnist; n_val=20\)$"),
        (lambda: P.check_increasing_pair({**values, "hi": 1.0}, "lo", "hi"), r"^hi=1.0: must be > lo=1.0$"),
        (lambda: P.check_augment({**values, "augment": True}), r"^augment=True: only with dataset=cifar10"),
    ]:
        with pytest.raises(ParameterError, match=pattern):
            call()


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="this machine has CUDA")
def test_check_device_refuses_cuda_in_one_line():
    from replication import params as P

    with pytest.raises(ParameterError, match=r"^device='cuda': no CUDA device is available here \(use device=cpu"):
        P.check_device("cuda")


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="this machine has CUDA")
def test_params_refuses_an_explicit_cuda_device_like_run(capsys):
    from replication.cli import main as cli_main

    chapter = next(n for n in chapters.names() if "device" in chapters.get(n).SPEC.names)
    for command in ("params", "run"):
        assert cli_main([command, chapter, "--profile", "smoke", "-p", "device=cuda"]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: device='cuda': no CUDA device") and err.count("\n") == 1
    assert cli_main(["params", chapter, "--profile", "gpu"]) == 0   # a profile for another machine validates
    assert "'run' refuses it" in capsys.readouterr().err


def test_run_without_the_dataset_is_one_line(store, isolated_data, capsys):
    from replication.cli import main as cli_main

    assert cli_main(["run", "sharpness", "--profile", "smoke", "-p", "dataset=mnist", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "MNIST" in err and err.count("\n") == 1


def test_run_into_an_unwritable_store_is_one_line_before_any_compute(tmp_path, monkeypatch, capsys):
    from replication.cli import main as cli_main

    (tmp_path / "a-file").write_text("")
    monkeypatch.setenv("REPLICATION_STORE", str(tmp_path / "a-file" / "store"))
    assert cli_main(["run", "sde", "--profile", "smoke", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not writable" in err and "REPLICATION_STORE" in err


def test_store_command_reports_results_quarantine_kinds_and_size(store, capsys):
    import dataclasses
    import warnings
    from typing import ClassVar

    from replication.cli import main as cli_main
    from replication.config import RunConfig

    @dataclasses.dataclass(frozen=True)
    class Item(RunConfig):
        kind: ClassVar[str] = "item"
        i: int = 0

    compute_all([Item(i=i) for i in range(3)], lambda c: {"i": c.i}, progress=False, store=store)
    (store.entry_dir(Item(i=0)) / "record.json").unlink()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert store.get(Item(i=0)) is None
    assert cli_main(["store"]) == 0
    out = capsys.readouterr().out
    assert "results: 2 (item: 2)" in out and "quarantined entries: 1" in out and "size on disk:" in out


def test_a_float_for_an_integer_and_a_repeated_list_entry_are_refused():
    from replication import chapters
    from replication.chapters import resolve_spec as resolve

    spec = chapters.get("sde").SPEC
    with pytest.raises(ParameterError, match=r"^seeds=2.0: must be an integer"):
        resolve(spec, "smoke", {"seeds": 2.0})
    with pytest.raises(ParameterError, match=r"^reg_losses=\['linear', 'linear'\]: 'linear' is listed twice"):
        resolve(spec, "smoke", {"reg_losses": ["linear", "linear"]})
    # paired lists may repeat: Fig. 2's batch sizes pair with its learning rates
    resolve(chapters.get("interpolation").SPEC, "smoke")


def _cli(capsys, *argv):
    from replication.cli import main

    status = main(list(argv))
    return status, capsys.readouterr()


def test_a_params_file_that_is_not_utf8_is_one_line(tmp_path, capsys):
    bad = tmp_path / "p.yml"
    bad.write_bytes(b"seeds: 3\n# caf\xe9\n")
    status, out = _cli(capsys, "params", "sde", "--profile", "smoke", "-f", str(bad))
    assert status == 2 and out.err.startswith(f"error: --params-file={str(bad)!r}: not UTF-8 text (byte 0xe9")
    assert len(out.err.strip().splitlines()) == 1


def test_a_profile_file_that_is_not_utf8_is_one_line(tmp_path, capsys):
    bad = tmp_path / "mine.yaml"
    bad.write_bytes(b"base: smoke\n# caf\xe9\n")
    status, out = _cli(capsys, "params", "sde", "--profile", str(bad))
    assert status == 2 and "not UTF-8 text" in out.err and len(out.err.strip().splitlines()) == 1


def test_an_unknown_chapter_section_in_a_params_file_is_named_as_a_chapter(tmp_path, capsys):
    bad = tmp_path / "p.yml"
    bad.write_text("sdee:\n  seeds: 3\n")
    status, out = _cli(capsys, "params", "sde", "--profile", "smoke", "-f", str(bad))
    assert status == 2 and "'sdee': unknown chapter; chapters:" in out.err and "unknown parameter" not in out.err


def test_params_all_prints_every_chapter(capsys):
    from replication import chapters

    status, out = _cli(capsys, "params", "all", "--profile", "smoke")
    assert status == 0
    assert [line[3:] for line in out.out.splitlines() if line.startswith("## ")] == list(chapters.names())
