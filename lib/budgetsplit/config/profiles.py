"""Where profiles live: the params folder shipped with the package, a user's own folder
(`--params DIR`), a profile's folder and the profiles it inherits from, and the files in them
(recipes, world.yaml, calibration/<task>.yaml). `config` loads what these functions find.

Where `params/` is: the repository's top-level `params/`, which the package reaches through the
committed symlink `lib/budgetsplit/params` (one copy in git); a wheel (and Colab's `pip install
git+...`) ships the files behind it as package data, found through importlib.resources.
`$BUDGETSPLIT_PARAMS` (set by `--params DIR` of the CLI and run_all.sh, inherited by worker
processes and notebooks) points at a user's own folder of profiles, which adds to the shipped ones
(and wins on a name both have); a profile there may `inherit:` a shipped one, even of its name.
A profile's name is its folder's name (`config.load_params` sets `Params.profile` from it).

    from budgetsplit.config.profiles import profile_dir, recipe_path, world_path
    recipe_path("toy", "math")      # .../params/toy/math.yaml
"""

from __future__ import annotations

import argparse
import os
from importlib import resources
from pathlib import Path

from budgetsplit.config.schema import ConfigError, read_yaml
from budgetsplit.core.layout import project_root

# The params shipped with the package: ./params through the symlink in a checkout, files in a
# wheel; a checkout made without symlinks (git's default on Windows) has a text file there instead.
PARAMS_DIR = Path(str(resources.files("budgetsplit") / "params"))
if not PARAMS_DIR.is_dir() and project_root() is not None:
    PARAMS_DIR = project_root() / "params"
PARAMS_ENV = "BUDGETSPLIT_PARAMS"


def params_dir() -> Path:
    """The folder of profiles in use: `$BUDGETSPLIT_PARAMS` if set, else the shipped `PARAMS_DIR`."""
    return Path(os.environ[PARAMS_ENV]) if os.environ.get(PARAMS_ENV) else PARAMS_DIR


def add_params_argument(parser: argparse.ArgumentParser) -> None:
    """The `--params DIR` option of a command that loads profiles; apply it with `use_params_dir`."""
    parser.add_argument(
        "--params",
        metavar="DIR",
        help=f"a folder of profiles besides the shipped ones (default: ${PARAMS_ENV}, else none)",
    )


def use_params_dir(folder: str | Path) -> Path:
    """Read profiles from `folder` in this process and in the processes it starts (`--params`)."""
    path = Path(folder).expanduser().resolve()
    if not path.is_dir():
        raise ConfigError(str(path), "--params", str(folder), "no such params folder")
    os.environ[PARAMS_ENV] = str(path)
    return path


def profile_dir(profile: str) -> Path:
    """`<params_dir()>/<profile>`, else the shipped profile of that name (a user's folder adds to them)."""
    mine = params_dir() / profile
    return mine if mine.is_dir() or not (PARAMS_DIR / profile).is_dir() else PARAMS_DIR / profile


def profiles() -> list[str]:
    """The profile names `profile_dir` finds."""
    homes = {params_dir(), PARAMS_DIR}
    return sorted({p.name for h in homes if h.is_dir() for p in h.iterdir() if p.is_dir()})


def existing_profile_dir(profile: str) -> Path:
    """`profile_dir(profile)`; ConfigError naming the known profiles when there is no such folder."""
    folder = profile_dir(profile)
    if not folder.is_dir():
        known = ", ".join(profiles())
        raise ConfigError(str(folder), "profile", profile, f"no such profile; known: {known}")
    return folder


def recipe_path(profile: str, task: str) -> Path:
    return profile_dir(profile) / f"{task}.yaml"


def recipe_paths(folder: Path) -> list[Path]:
    """Every recipe in a profile's folder (math.yaml, math_costs.yaml, ...), sorted: its YAML
    files but the shared _defaults.yaml and world.yaml."""
    return sorted(
        f for f in folder.glob("*.yaml") if f.name not in ("_defaults.yaml", "world.yaml")
    )


def calibration_path(profile: str | Path, task: str) -> Path:
    """The calibration of `task` that `budgetsplit calibrate` writes for a profile, given by its
    name or (a Path) its folder: `<folder>/calibration/<task>.yaml`."""
    folder = profile if isinstance(profile, Path) else profile_dir(profile)
    return folder / "calibration" / f"{task}.yaml"


def profile_chain(folder: Path) -> list[Path]:
    """`folder`, then the profile folders it inherits from (`inherit:` in _defaults.yaml), nearest first."""
    chain = [folder]
    while (defaults := chain[-1] / "_defaults.yaml").is_file():
        parent = read_yaml(defaults).get("inherit")
        if parent is None:
            break
        # A sibling profile first, else a shipped one: a user's folder may build on "toy" (its own
        # "toy" too, which then inherits the shipped "toy").
        homes = (chain[-1].parent, PARAMS_DIR)
        ok = isinstance(parent, str)
        found = [h / parent for h in homes if ok and (h / parent / "_defaults.yaml").is_file()]
        if not found:
            where = " or ".join(dict.fromkeys(str(h) for h in homes))
            raise ConfigError(
                str(defaults),
                "inherit",
                parent,
                f"names no profile with a _defaults.yaml in {where}",
            )
        seen = {f.resolve() for f in chain}
        fresh = [f for f in found if f.resolve() not in seen]
        if not fresh:
            raise ConfigError(str(defaults), "inherit", parent, "profiles inherit in a cycle")
        chain.append(fresh[0])
    return chain


def world_path(profile: str) -> Path:
    """`params/<profile>/world.yaml`, or that of the nearest profile it inherits from."""
    worlds = [f / "world.yaml" for f in profile_chain(profile_dir(profile))]
    return next((w for w in worlds if w.is_file()), worlds[0])
