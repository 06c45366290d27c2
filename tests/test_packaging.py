"""The set-up files agree with each other (environment.yml installs what pyproject.toml pins), and
a built wheel installed outside the checkout loads every profile's recipes."""

import os
import shutil
import site
import subprocess
import sys
import zipfile

import tomllib
import yaml

from budgetsplit.config.params import ROOT


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


def test_an_installed_wheel_loads_every_profiles_recipes(tmp_path):
    # Build from a copy (build/ and *.egg-info stay out of the checkout), as pip builds a git URL.
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    shutil.copytree(ROOT / "lib", src / "lib", symlinks=True, ignore=ignore)
    shutil.copytree(ROOT / "params", src / "params", ignore=ignore)
    pip = [sys.executable, "-m", "pip"]
    subprocess.run(
        [*pip, "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", tmp_path, src],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = tmp_path.glob("budgetsplit-*.whl")
    shipped = {n for n in zipfile.ZipFile(wheel).namelist() if n.startswith("budgetsplit/params/")}
    assert {
        f"budgetsplit/{p.relative_to(ROOT)}" for p in (ROOT / "params").rglob("*.yaml")
    } == shipped

    # A fresh venv on top of this environment's packages (no network), the wheel installed in it.
    venv = tmp_path / "venv"
    subprocess.run(
        [sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", venv],
        check=True,
        timeout=120,
    )
    py = venv / "bin" / "python"
    purelib = subprocess.run(
        [py, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    # Only the dependencies: this environment's own budgetsplit (an editable install) stays out.
    deps = [p for p in site.getsitepackages() if not p.startswith(str(ROOT / "lib"))]
    (venv / purelib / "project_env.pth").write_text("\n".join(deps) + "\n")
    # --ignore-installed: the venv sees this environment's budgetsplit metadata; never uninstall it.
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "BUDGETSPLIT_PARAMS")}
    install = ["install", "-q", "--no-deps", "--no-index", "--ignore-installed", wheel]
    subprocess.run([*pip, "--python", py, *install], env=env, check=True, timeout=300)
    probe = """
import budgetsplit, budgetsplit.config.params as c
from budgetsplit.cli.grid import recipes
assert budgetsplit.__file__.startswith(sys.argv[1]), budgetsplit.__file__
assert c.ROOT is None and c.PARAMS_DIR.is_relative_to(sys.argv[1]), (c.ROOT, c.PARAMS_DIR)
n = 0
for profile in c.profiles():
    for path in c.profile_dir(profile).glob("[!_]*.yaml"):
        if path.name == "world.yaml":
            continue
        p = c.load_params(path)
        assert p.profile == profile, path
        n += 1
    c.load_world(profile) if c.world_path(profile).is_file() else None
    assert recipes(profile, None)
print(n, ",".join(c.profiles()))
"""
    r = subprocess.run(
        [py, "-c", "import sys\n" + probe, str(venv)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    out = r.stdout
    n_recipes = sum(1 for p in (ROOT / "params").glob("*/[!_]*.yaml") if p.name != "world.yaml")
    assert out.split() == [str(n_recipes), "paper,smoke,toy,toy_large"]


def test_quickstart_installs_from_the_one_repository_url():
    import json
    import re

    nb = json.loads((ROOT / "notebooks" / "quickstart.ipynb").read_text())
    code = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]
    urls = [m for c in code for m in re.findall(r"https?://\S+", c)]
    assert len(urls) == 1, urls  # stated once ...
    (install,) = [c for c in code if "%pip install" in c]
    assert re.search(r'^REPO_URL = "https://[^"]+"$', install, re.M)
    assert '"budgetsplit @ git+{REPO_URL}"' in install  # ... and used by the install
