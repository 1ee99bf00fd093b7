"""environment.yml, constraints.txt and pyproject.toml describe the same environment."""
import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[ ]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def _pins(lines) -> dict[str, str]:
    pins = {}
    for line in lines:
        line = line.split("#")[0].strip()
        if "==" in line:
            name, version = line.split("==")
            pins[_name(name)] = version.strip()
    return pins


def test_environment_yml_pins_exactly_the_constraints():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    constraints = _pins((ROOT / "constraints.txt").read_text().splitlines())
    assert _pins(pip) == constraints
    assert "-e .[book,test,scale]" in pip, "the conda environment installs this package"


def test_every_declared_dependency_is_pinned():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = project["dependencies"] + [r for extra in project["optional-dependencies"].values() for r in extra]
    constraints = _pins((ROOT / "constraints.txt").read_text().splitlines())
    missing = {_name(r) for r in declared} - set(constraints)
    assert not missing, f"pin these in constraints.txt and environment.yml: {missing}"
    assert constraints["jupyter-book"] == "1.0.4.post1"  # 2.x is a different tool
    assert any(r.startswith("torch>=2.4") for r in project["dependencies"])


def test_pinned_versions_are_the_installed_ones():
    from importlib.metadata import version

    for name, pinned in _pins((ROOT / "constraints.txt").read_text().splitlines()).items():
        assert version(name) == pinned, name


def test_package_data_ships_every_data_file_the_package_reads():
    """An installed (non-editable) copy needs the profiles, the CSS and every chapter's rule registry."""
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["replication"]
    package = ROOT / "replication"
    shipped = {p for pattern in patterns for p in package.glob(pattern)}
    needed = set(package.glob("chapters/*/*.yaml")) | set(package.glob("profiles/*.yaml"))
    assert needed and needed <= shipped, f"not in package-data: {sorted(str(p.relative_to(ROOT)) for p in needed - shipped)}"
