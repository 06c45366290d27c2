"""The set-up files agree with each other (environment.yml installs what pyproject.toml pins), and
a built wheel installed outside the checkout loads every profile's recipes and finds the shipped
base models."""

import os
import shutil
import site
import subprocess
import sys
import zipfile

import tomllib
import yaml

from budgetsplit.config.params import ROOT

CPU_INDEX = "https://download.pytorch.org/whl/cpu"  # PyTorch's index of CPU-only torch wheels


def _env_file(path) -> tuple[dict, list, list[str]]:
    """A conda environment file: (the file, its conda dependencies, its pip section)."""
    env = yaml.safe_load(path.read_text())
    conda = [d for d in env["dependencies"] if not isinstance(d, dict)]
    (pip,) = [d["pip"] for d in env["dependencies"] if isinstance(d, dict)]
    return env, conda, pip


def test_environment_yml_matches_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = set(project["dependencies"]) | set(project["optional-dependencies"]["dev"])
    _, _, pip = _env_file(ROOT / "environment.yml")
    assert set(pip) - {"-e ."} == wanted
    assert "-e ." in pip


def test_binder_environment_is_the_root_one_with_cpu_torch():
    """Binder reads binder/ and nothing at the root: its environment.yml installs the root file's
    packages with the same version ranges (so pyproject.toml's, above), torch included, with
    PyTorch's CPU index beside PyPI; no local path (binder/postBuild installs the package)."""
    env, conda, pip = _env_file(ROOT / "environment.yml")
    b_env, b_conda, b_pip = _env_file(ROOT / "binder" / "environment.yml")
    assert {k: v for k, v in b_env.items() if k != "dependencies"} == {
        k: v for k, v in env.items() if k != "dependencies"
    }
    assert b_conda == conda  # python=3.11, pip
    options = [p for p in b_pip if p.startswith("-")]
    assert options == [f"--extra-index-url {CPU_INDEX}"]  # an extra index: PyPI stays the main one
    assert sorted(p for p in b_pip if p not in options) == sorted(p for p in pip if p != "-e .")
    assert any(p.startswith("torch>=") for p in b_pip)


def test_binder_postbuild_installs_the_package_and_registers_the_notebooks_kernel():
    import json
    import re

    post = ROOT / "binder" / "postBuild"
    assert post.stat().st_mode & 0o111, "binder/postBuild is not executable"
    text = post.read_text()
    assert text.startswith("#!/bin/bash\n") and "\nset -euo pipefail\n" in text
    # repo2docker runs it from the repository root: `-e .` is the package
    assert re.search(rf"^python -m pip install .*--extra-index-url {CPU_INDEX} -e \.$", text, re.M)
    (kernel,) = re.findall(r"^python -m ipykernel install --user (.*)$", text, re.M)
    name, display = re.fullmatch(r'--name (\S+) --display-name "([^"]+)"', kernel).groups()
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        spec = json.loads(path.read_text())["metadata"]["kernelspec"]
        assert (spec["name"], spec["display_name"]) == (name, display), path.name


def test_scripts_are_executable():
    for name in ("run_all.sh", "run_tests.sh", ".ci/run"):
        path = ROOT / name
        assert path.is_file(), name
        assert path.stat().st_mode & 0o111, f"{name} is not executable"


def _bootstrap_real(tmp_path, *specs: str, pip_fails: bool = False):
    """scripts/bootstrap.sh's bootstrap_real on `specs`, with a PY that runs this interpreter but
    records (and answers) `-m pip` instead of installing: (exit status, pip's arguments, stderr)."""
    log = tmp_path / "pip.log"
    py = tmp_path / "py"
    py.write_text(
        "#!/usr/bin/env bash\n"
        f'if [ "$1 $2" = "-m pip" ]; then echo "$@" >> {log}; exit {int(pip_fails)}; fi\n'
        f'exec {sys.executable} "$@"\n'
    )
    py.chmod(0o755)
    script = f"""source <(sed -n '/^bootstrap_real()/,/^}}/p' {ROOT / "scripts" / "bootstrap.sh"})
PY={py}; bootstrap_real "$@" """
    done = subprocess.run(["bash", "-c", script, "bash", *specs], capture_output=True, text=True)
    return done.returncode, log.read_text().split() if log.exists() else [], done.stderr


def test_bootstrap_real_installs_only_what_is_missing(tmp_path):
    from importlib.metadata import version

    here = f"pytest=={version('pytest')}"
    assert _bootstrap_real(tmp_path, here) == (0, [], "")  # installed at that version: no pip
    rc, pip, _ = _bootstrap_real(tmp_path, here, "pytest==0.0.1", "no-such-dist-zz==1.0")
    assert rc == 0 and pip[-3:] == ["--no-deps", "pytest==0.0.1", "no-such-dist-zz==1.0"]
    assert here not in pip
    rc, _, err = _bootstrap_real(tmp_path, "no-such-dist-zz==1.0", pip_fails=True)
    assert rc == 1 and "could not install no-such-dist-zz==1.0" in err


def test_bootstrap_finds_an_environment_by_its_packages_without_importing_them(tmp_path):
    """`_usable`, which every run_all.sh and run_tests.sh call goes through: this interpreter has
    everything; the same one without its site-packages (`-S`) has none of it, nor with folders
    of the names but no code (namespaces); and it finds a package without importing it."""
    import os

    bare = tmp_path / "bare"
    bare.write_text(f'#!/usr/bin/env bash\nexec {sys.executable} -S "$@"\n')
    bare.chmod(0o755)
    lines = (ROOT / "scripts" / "bootstrap.sh").read_text().splitlines()
    defs = "\n".join(x for x in lines if x.startswith(("_probe=", "_usable()")))
    assert defs.count("\n") == 1  # both lines found
    names = defs.rsplit('"$_probe"', 1)[1].split(">")[0].split()
    assert "torch" in names and "budgetsplit" in names
    empty = tmp_path / "empty"
    for name in names:
        (empty / name).mkdir(parents=True)
    stub = tmp_path / "stub" / "hypothesis"  # shadows the real one; importing it leaves a mark
    stub.mkdir(parents=True)
    mark = tmp_path / "imported"
    (stub / "__init__.py").write_text(f"open({str(mark)!r}, 'w').close()\n")

    def usable(py, path=None) -> int:
        env = {**os.environ, "PYTHONPATH": str(path)} if path else None
        script = f'{defs}\n_usable "$1"'
        return subprocess.run(["bash", "-c", script, "bash", str(py)], env=env).returncode

    assert usable(sys.executable) == 0
    assert usable(bare) == 1
    assert usable(bare, empty) == 1
    assert usable(sys.executable, stub.parent) == 0 and not mark.exists()


SHIPPED = "budgetsplit/tasks/toyworld/base_models"  # under lib/, and in the wheel


def _fake_shipped_model(folder) -> None:
    """A shipped base model's files, small: whole safetensors and JSON, build info with a key."""
    import numpy as np
    from safetensors.numpy import save_file

    folder.mkdir(parents=True)
    save_file({"w": np.zeros(2, dtype=np.float32)}, str(folder / "model.safetensors"))
    for name in (
        "config.json",
        "generation_config.json",
        "tokenizer.json",
        "tokenizer_config.json",
    ):
        (folder / name).write_text("{}")
    (folder / "build_info.json").write_text('{"key": "fake-key"}')


def test_an_installed_wheel_loads_every_profiles_recipes(tmp_path):
    # Build from a copy (build/ and *.egg-info stay out of the checkout), as pip builds a git URL.
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    shutil.copytree(ROOT / "lib", src / "lib", symlinks=True, ignore=ignore)
    shutil.copytree(ROOT / "params", src / "params", ignore=ignore)
    _fake_shipped_model(src / "lib" / SHIPPED / "fake")  # beside whatever the checkout ships
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
    models = {n for n in zipfile.ZipFile(wheel).namelist() if n.startswith(f"{SHIPPED}/")}
    files = [p for p in (src / "lib" / SHIPPED).rglob("*") if p.is_file()]
    assert models == {str(p.relative_to(src / "lib")) for p in files}
    assert {f"{SHIPPED}/README.md", f"{SHIPPED}/fake/model.safetensors"} <= models

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
from budgetsplit.tasks.toyworld.shipped import find_shipped
assert find_shipped("fake-key").is_relative_to(sys.argv[1]), find_shipped("fake-key")
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
    shipped = ",".join(sorted(p.name for p in (ROOT / "params").iterdir() if p.is_dir()))
    assert shipped.startswith("paper,") and "toy" in shipped.split(",")
    assert out.split() == [str(n_recipes), shipped]


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
