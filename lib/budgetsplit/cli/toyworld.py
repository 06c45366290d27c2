"""`budgetsplit toyworld build | probe | sample`: build the toy world's base model, score its
skills, or show what a task and the model look like.

    budgetsplit toyworld build [--profile toy|smoke|path/to/world.yaml] [--size S] [--pause-after MIN]
    budgetsplit toyworld build --rebuild [--profile toy] [--split val] [-n 200]
    budgetsplit toyworld build --ship [--profile toy]      (a world.yaml path: --ship-as NAME)
    budgetsplit toyworld probe [--profile toy] [--split val|test] [-n 200]
    budgetsplit toyworld sample --task math -n 3 [--profile smoke]

`build` prints the cached base-model folder and where it came from: the cache, the model shipped
with the package (copied into the cache), or a fresh build (the first time for a world nothing
ships for, seconds to minutes on a CPU; later calls return at once). A long build runs in
chunks: `--pause-after 90` saves its state after 90 minutes and exits with status 3; the same
command goes on from there (a killed build resumes from its last state, tasks/toyworld/resume.py).
`--rebuild` pretrains the
recipe again into a temporary folder, touching neither the cache nor the shipped copy, and
tabulates it against the shipped (else the cached) model: held-out loss, byte-identical weights,
the largest weight difference, skill-probe scores. `--ship` copies the profile's model into the
package's `tasks/toyworld/base_models/<profile>/` (replacing it): how the shipped model is
refreshed after the corpus or the recipe changes (commit the folder after). `probe` prints the
base model's skill-probe score per task (training/probes.py). `sample` prints a few rows of
each kind of the task, a few corpus documents, and the base model's greedy continuations of the
beginning of a corpus document and of a chat-formatted test prompt: fluent world prose, but not
the task's response format.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

from budgetsplit.config.params import load_world, sized_world, world_path
from budgetsplit.config.schema import ConfigError
from budgetsplit.core.registry import TASKS, corpus_source
from budgetsplit.core.store import DamagedFileError, read_saved_model
from budgetsplit.tasks.toyworld import shipped

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the toy world never needs the Hub


def _show(title: str, rows: list[dict]) -> None:
    print(f"\n=== {title}")
    for r in rows:
        print(json.dumps(r, indent=1, ensure_ascii=False))


def _generate(model, tok, text: str, max_new_tokens: int) -> str:
    import torch  # the commands load torch when they run: `budgetsplit --help` stays quick

    ids = tok(text, return_tensors="pt", add_special_tokens=False)
    with torch.no_grad():
        out = model.generate(**ids, max_new_tokens=max_new_tokens, do_sample=False)
    return tok.decode(out[0, ids["input_ids"].shape[1] :], skip_special_tokens=False)


def sample(world, task_name: str, n: int) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer  # see _generate

    from budgetsplit.tasks.toyworld import get_toy_task
    from budgetsplit.tasks.toyworld.pretrain import get_base_model

    task = get_toy_task(task_name, world)
    print(f"task {task.name}: primary metric {task.primary_metric}")
    print(f"system prompt: {task.system_prompt!r}")
    _show("SFT pool", task.sft_pool()[:n])
    _show("preference pool", task.pref_pool()[:n])
    _show("test split", task.eval_split("test")[:n])
    docs = corpus_source(task_name)(world.seed, n)
    print("\n=== corpus documents")
    for d in docs:
        print("-", d)

    folder = get_base_model(world)
    tok = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder).eval()
    print(f"\n=== base model {folder}: continuations (greedy)")
    for d in docs[:2]:
        head = " ".join(d.split()[:8])
        print(f"- {head} ||| {_generate(model, tok, head, 40)}")
    for row in task.eval_split("test")[:2]:
        chat = tok.apply_chat_template(
            task.prompt_messages(row["prompt"]), tokenize=False, add_generation_prompt=True
        )
        completion = _generate(model, tok, chat, 60)
        print(f"- chat prompt {row['prompt']!r}\n  ||| {completion!r}")
        print(f"  in format: {task.in_format(completion)}")


ORIGINS = {
    "cache": "the cache",
    "shipped": "the shipped model (copied into the cache)",
    "built": "a fresh build",
}


def _is_path(profile: str) -> bool:
    return Path(profile).suffix in (".yaml", ".yml")  # as config.params.load_world tells them


def ship_name(profile: str, ship_as: str | None, size: str | None = None) -> str:
    """The shipped folder's name: the profile's, with the size's for one of its `sizes`
    (`shipped.folder_name`; the stale-key test loads the world by it); a world.yaml path has
    none, so it needs `--ship-as`."""
    if _is_path(profile):
        if not ship_as:
            raise ConfigError(profile, "--ship-as", None, "a world.yaml path needs --ship-as NAME")
        if Path(ship_as).name != ship_as or ship_as.startswith("."):
            raise ConfigError(profile, "--ship-as", ship_as, "must be a plain folder name")
        return shipped.folder_name(ship_as, size)
    if ship_as and ship_as != profile:
        problem = f"the shipped model of profile {profile!r} is named after it"
        raise ConfigError(profile, "--ship-as", ship_as, problem)
    return shipped.folder_name(profile, size)


def _build_line(info: dict) -> str:
    return (
        f"params {info['n_params']:,}  vocab {info['vocab_size']}  "
        f"train loss {info['final_train_loss']:.3f}  held-out loss "
        f"{info['heldout_loss']:.3f}  built in {info['wall_s']} s"
    )


def ship_model(world, name: str, progress: bool = True) -> Path:
    """Find or build `world`'s base model and copy it to the shipped folder `name`."""
    from budgetsplit.tasks.toyworld.pretrain import find_base_model  # torch: see _generate

    folder, origin = find_base_model(world, progress=progress)
    key = json.loads((folder / "build_info.json").read_text())["key"]
    dest = shipped.SHIPPED_ROOT / name
    if shipped.find_shipped(key) == dest:
        print(f"already shipped: {dest} (key {key})", file=sys.stderr)
        return dest
    old = dest / "build_info.json"
    was = json.loads(old.read_text()).get("key") if old.is_file() else None
    shipped.ship(folder, name)
    print(
        f"shipped {folder} (from {ORIGINS[origin]}) to {dest}"
        + (f", replacing key {was}" if was else "")
        + "; commit that folder",
        file=sys.stderr,
    )
    return dest


def _probes(world, folder: Path, split: str, n: int, progress: bool) -> dict[str, dict]:
    # probes.py loads torch and every task; imported here so the other commands do not need it.
    from budgetsplit.training.probes import probe_scores

    return probe_scores(world, folder, split=split, n=n, progress=progress)


def rebuild(world, split: str = "val", n: int = 200, progress: bool = True) -> dict:
    """Pretrain `world`'s recipe again into a temporary folder and print it against the shipped
    model of its key (else the cached one); returns the comparison (`shipped.compare`, plus the
    probe scores when `n` > 0). Neither the cache nor the shipped folder is written."""
    # torch: see _generate
    from budgetsplit.tasks.toyworld.pretrain import cache_key, cache_root, default_sources, pretrain

    sources = default_sources()
    key = cache_key(world, sources)
    ref, label = shipped.find_shipped(key), "shipped"
    if ref is None:
        ref, label = cache_root() / "base" / key, "cached"
        try:
            read_saved_model(ref, "build_info.json", "base model")
        except (DamagedFileError, FileNotFoundError):
            ref = None
    with tempfile.TemporaryDirectory(prefix="budgetsplit-rebuild-") as tmp:
        fresh = Path(tmp)
        info = pretrain(world, sources, fresh, progress=progress)
        info["key"] = key
        (fresh / "build_info.json").write_text(json.dumps(info, indent=2) + "\n")
        print(f"rebuilt: {_build_line(info)}", file=sys.stderr)
        if ref is None:
            print(f"nothing shipped nor cached for key {key}: no model to compare with")
            result = {"heldout_loss": [None, info["heldout_loss"]]}
        else:
            result = shipped.compare(ref, fresh)
        folders = [f for f in (ref, fresh) if f is not None]
        scores = [_probes(world, f, split, n, progress) for f in folders] if n > 0 else []
    if scores:
        result["probes"] = scores if ref is not None else [None, scores[0]]
    _print_rebuild(result, label if ref is not None else None, f"{split}, n={n}", ref)
    return result


def _print_rebuild(result: dict, label: str | None, probe_set: str, ref: Path | None) -> None:
    def cell(v) -> str:
        return "-" if v is None else f"{v:.4f}"

    rows = [("held-out loss", *result["heldout_loss"])]
    probes = result.get("probes", [])
    for task in probes[1] if probes else {}:
        got = [None if p is None else p[task]["score"] for p in probes]
        rows.append((f"probe {task} ({probe_set})", *got))
    print(f"\n{'':28} {label or 'none':>10} {'rebuilt':>10}")
    for name, a, b in rows:
        print(f"{name:28} {cell(a):>10} {cell(b):>10}")
    if ref is None:
        return
    print(f"{label} model: {ref}")
    same = "yes" if result["weights_identical"] else "no"
    diff = result["max_abs_weight_diff"]
    diff = "tensor shapes differ" if diff is None else f"max abs weight difference {diff:.3g}"
    print(f"model.safetensors byte-identical: {same} ({diff})")
    print(f"tokenizer.json byte-identical: {'yes' if result['tokenizer_identical'] else 'no'}")


def probe(world, split: str, n: int, progress: bool = True, examples: int = 0) -> dict:
    """Print the base model's skill-probe score per task (and a few examples); return them."""
    from budgetsplit.tasks.toyworld.pretrain import get_base_model  # torch: see _generate

    folder = get_base_model(world, progress=progress)
    scores = _probes(world, folder, split, n, progress)
    print(f"base model {folder}: skill probes on {split}")
    print(f"{'task':12} {'score':>7} {'n':>5}")
    for task, r in scores.items():
        print(f"{task:12} {r['score']:7.3f} {r['n']:5d}")
        for part, t in r["parts"].items():  # a probe's parts (instruct: each rule) kept
            print(f"  {part:40} {t['right']:4d} of {t['n']:4d} right")
    for task, r in scores.items():
        for e in r["examples"][:examples]:
            print(f"- {task} [{e['score']:.2f}] {e['prefix']!r}\n  ||| {e['completion']!r}")
    return scores


def add_parser(commands) -> None:
    top = commands.add_parser("toyworld", help="build the toy base model, probe it, or show a task")
    sub = top.add_subparsers(dest="toyworld", required=True)
    build_p = sub.add_parser(
        "build",
        help="find (cache, shipped) or build the base model; print its folder",
        description="Print the base model's folder and where it came from: the cache, the model "
        "shipped with the package, or a fresh build.",
    )
    probe_p = sub.add_parser("probe", help="print the base model's skill-probe score per task")
    sample_p = sub.add_parser("sample", help="print task rows and base-model continuations")
    for p in (build_p, probe_p, sample_p):
        p.add_argument("--profile", default="toy", help="toy, smoke or a world.yaml path")
        p.add_argument("--size", help="a size of the world's `sizes` (model.name toy:<size>)")
    for p in (build_p, probe_p):
        p.add_argument("--quiet", action="store_true", help="no progress bar")
        p.add_argument("--split", choices=("val", "test"), default="val", help="probe rows")
        p.add_argument("-n", type=int, default=200, help="probes per task (build: --rebuild's)")
    mode = build_p.add_mutually_exclusive_group()
    mode.add_argument(
        "--rebuild",
        action="store_true",
        help="pretrain again into a temporary folder (the cache and the shipped copy untouched) "
        "and compare with the shipped (else cached) model: held-out loss, byte-identical "
        "weights, max weight difference, skill probes (-n 0: none)",
    )
    mode.add_argument(
        "--ship",
        action="store_true",
        help="copy the found or built model into the package's tasks/toyworld/base_models/"
        "<profile>/, replacing it (then commit it); a world.yaml path needs --ship-as NAME",
    )
    build_p.add_argument(
        "--ship-as", metavar="NAME", help="with --ship and a world.yaml path: the folder's name"
    )
    build_p.add_argument(
        "--pause-after",
        type=float,
        metavar="MIN",
        help="stop a fresh build after MIN minutes of training, its state saved; the same "
        "command goes on from there (a killed build also resumes, from its last few minutes)",
    )
    probe_p.add_argument("--examples", type=int, default=0, help="examples printed per task")
    sample_p.add_argument("--task", required=True, choices=TASKS)
    sample_p.add_argument("-n", type=int, default=3, help="rows of each kind")
    top.set_defaults(run=main)


def main(args) -> int:
    from budgetsplit.tasks.toyworld.pretrain import find_base_model  # torch: see _generate
    from budgetsplit.tasks.toyworld.resume import BuildPaused

    try:
        where = args.profile if _is_path(args.profile) else str(world_path(args.profile))
        world = sized_world(load_world(args.profile), args.size, where)
        progress = not getattr(args, "quiet", False)
        if args.toyworld == "build" and args.ship_as and not args.ship:
            raise ConfigError(args.profile, "--ship-as", args.ship_as, "only goes with --ship")
        if args.toyworld == "build" and args.ship:
            dest = ship_model(world, ship_name(args.profile, args.ship_as, args.size), progress)
            print(dest)
        elif args.toyworld == "build" and args.rebuild:
            rebuild(world, args.split, args.n, progress)
        elif args.toyworld == "build":
            pause = None if args.pause_after is None else 60 * args.pause_after
            try:
                folder, origin = find_base_model(world, progress=progress, pause_after_s=pause)
            except BuildPaused as e:
                print(e, file=sys.stderr)
                return 3
            info = json.loads((folder / "build_info.json").read_text())
            print(f"{_build_line(info)}; from {ORIGINS[origin]}", file=sys.stderr)
            print(folder)
        elif args.toyworld == "probe":
            probe(world, args.split, args.n, progress, args.examples)
        else:
            sample(world, args.task, args.n)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0
