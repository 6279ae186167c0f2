# shellcheck shell=bash
# scripts/lib/python-env.sh -- a project virtual environment under .tools/venv
# with the Python packages the tests use. Sourced; `python_env` sets $PYTHON.
#
# - requests: the docs page's Python example (tests/tests/docs_examples.rs);
# - schemathesis: property-based testing of the API against openapi.yaml
#   (tests/tests/schemathesis.rs). Pinned: its checks, their names and its
#   JSON report are what that test relies on.

PY_REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PY_VENV="$PY_REPO/.tools/venv"
PY_REQUESTS="requests==2.32.*"
PY_SCHEMATHESIS_VERSION="4.32.5"

python_env() {
  if [[ ! -x "$PY_VENV/bin/python" ]]; then
    printf 'python: creating %s\n' "${PY_VENV#"$PY_REPO"/}" >&2
    python3 -m venv "$PY_VENV"
  fi
  if ! "$PY_VENV/bin/python" -c 'import requests' 2>/dev/null; then
    printf 'python: installing requests\n' >&2
    "$PY_VENV/bin/pip" install --quiet --disable-pip-version-check "$PY_REQUESTS" >&2
  fi
  local installed
  installed="$("$PY_VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("schemathesis"))' 2>/dev/null || true)"
  if [[ "$installed" != "$PY_SCHEMATHESIS_VERSION" ]]; then
    printf 'python: installing schemathesis %s\n' "$PY_SCHEMATHESIS_VERSION" >&2
    "$PY_VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$PY_SCHEMATHESIS_VERSION" >&2
  fi
  export PYTHON="$PY_VENV/bin/python"
}
