"""The set-up files agree with each other: environment.yml installs what pyproject.toml pins."""

import tomllib
import yaml

from budgetsplit.config import ROOT


def test_environment_yml_matches_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = set(project["dependencies"]) | set(project["optional-dependencies"]["dev"])
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert set(pip) - {"-e ."} == wanted
    assert "-e ." in pip


def test_scripts_are_executable():
    for name in ("run_all.sh", "run_tests.sh", ".ci/run"):
        path = ROOT / name
        assert path.is_file(), name
        assert path.stat().st_mode & 0o111, f"{name} is not executable"
