"""`budgetsplit toyworld build | sample`: build the toy world's base model, or show what a task and
the model look like.

    budgetsplit toyworld build [--profile toy|smoke|path/to/world.yaml]
    budgetsplit toyworld sample --task math -n 3 [--profile smoke]

`build` prints the cached base-model folder (building it the first time, seconds to minutes on a
CPU; later calls return at once). `sample` prints a few rows of each kind of the task, a few corpus
documents, and the base model's greedy continuations of the beginning of a corpus document and of
a chat-formatted test prompt: fluent world prose, but not the task's response format.
"""

from __future__ import annotations

import json
import os
import sys

from budgetsplit.config.params import load_world
from budgetsplit.config.schema import ConfigError
from budgetsplit.core.registry import TASKS, corpus_source

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


def add_parser(commands) -> None:
    top = commands.add_parser("toyworld", help="build the toy base model, or show a task")
    sub = top.add_subparsers(dest="toyworld", required=True)
    build_p = sub.add_parser("build", help="build or find the base model; print its folder")
    sample_p = sub.add_parser("sample", help="print task rows and base-model continuations")
    for p in (build_p, sample_p):
        p.add_argument("--profile", default="toy", help="toy, smoke or a world.yaml path")
    build_p.add_argument("--quiet", action="store_true", help="no progress bar")
    sample_p.add_argument("--task", required=True, choices=TASKS)
    sample_p.add_argument("-n", type=int, default=3, help="rows of each kind")
    top.set_defaults(run=main)


def main(args) -> int:
    from budgetsplit.tasks.toyworld.pretrain import get_base_model  # torch: see _generate

    try:
        world = load_world(args.profile)
        if args.toyworld == "build":
            folder = get_base_model(world, progress=not args.quiet)
            info = json.loads((folder / "build_info.json").read_text())
            print(
                f"params {info['n_params']:,}  vocab {info['vocab_size']}  "
                f"train loss {info['final_train_loss']:.3f}  held-out loss "
                f"{info['heldout_loss']:.3f}  built in {info['wall_s']} s",
                file=sys.stderr,
            )
            print(folder)
        else:
            sample(world, args.task, args.n)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0
