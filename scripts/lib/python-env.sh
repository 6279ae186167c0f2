# shellcheck shell=bash
# scripts/lib/python-env.sh -- a project virtual environment under .tools/venv
# with the Python packages the tests use. Sourced; `python_env` sets $PYTHON.

PY_REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PY_VENV="$PY_REPO/.tools/venv"

python_env() {
  if [[ ! -x "$PY_VENV/bin/python" ]]; then
    printf 'python: creating %s\n' "${PY_VENV#"$PY_REPO"/}" >&2
    python3 -m venv "$PY_VENV"
  fi
  if ! "$PY_VENV/bin/python" -c 'import requests' 2>/dev/null; then
    printf 'python: installing requests\n' >&2
    "$PY_VENV/bin/pip" install --quiet --disable-pip-version-check "requests==2.32.*" >&2
  fi
  export PYTHON="$PY_VENV/bin/python"
}
