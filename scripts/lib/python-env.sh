# shellcheck shell=bash
# scripts/lib/python-env.sh -- the project's Python virtual environment under
# .tools/venv (git-ignored) and what is installed into it. Sourced.
#
# - `python_env` sets $PYTHON, with
#   - requests: the docs page's Python example (tests/tests/docs_examples.rs);
#   - schemathesis: property-based testing of the API against openapi.yaml
#     (tests/tests/schemathesis.rs). Pinned: its checks, their names and its
#     JSON report are what that test relies on.
# - `sam_cli_env [VENV]` installs pinned cfn-lint and aws-sam-cli (the
#   template lint, scripts/lint-template) and exports $SAM_VENV and
#   $AWS_LAMBDA_RIE: the AWS Lambda Runtime Interface Emulator binary that
#   the SAM CLI ships for `sam local` (tests/tests/lambda_runtime.rs runs the
#   function binaries under it). VENV defaults to .tools/venv. The SAM CLI
#   is pinned exactly: scripts/lib/sam-launcher.py (sam local) patches its
#   container creation and refuses any other version.
# - `checkov_env` installs pinned checkov into .tools/checkov-venv (the
#   template lint) and exports $CHECKOV_VENV.

PY_REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PY_VENV="$PY_REPO/.tools/venv"
PY_REQUESTS="requests==2.32.*"
PY_SCHEMATHESIS_VERSION="4.32.5"
PY_CFN_LINT_VERSION="1.58.0"
PY_SAM_CLI_VERSION="1.170.0"
# Its own venv: checkov 3.3.30 pins boto3==1.35.49 and SAM CLI 1.170 pins
# boto3==1.43.108, so they cannot share one.
PY_CHECKOV_VERSION="3.3.30"
PY_CHECKOV_VENV="$PY_REPO/.tools/checkov-venv"

# py_venv VENV: creates the virtual environment VENV if it does not exist.
py_venv() {
  if [[ ! -x "$1/bin/python" ]]; then
    printf 'python: creating %s\n' "${1#"$PY_REPO"/}" >&2
    python3 -m venv "$1"
  fi
}

python_env() {
  py_venv "$PY_VENV"
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

sam_cli_env() {
  local venv="${1:-$PY_VENV}"
  local stamp="$venv/.lint-template-versions"
  local wanted="cfn-lint==$PY_CFN_LINT_VERSION aws-sam-cli==$PY_SAM_CLI_VERSION"
  py_venv "$venv"
  if [[ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]]; then
    printf 'python: installing %s (~1-2 min)\n' "$wanted" >&2
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip >&2
    # shellcheck disable=SC2086 # word splitting of $wanted is intended
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check $wanted >&2
    echo "$wanted" >"$stamp"
  fi
  export SAM_VENV="$venv"

  local arch rie
  case "$(uname -m)" in
    x86_64 | amd64) arch=x86_64 ;;
    aarch64 | arm64) arch=arm64 ;;
    *) printf 'python: no aws-lambda-rie for %s\n' "$(uname -m)" >&2; return 1 ;;
  esac
  rie="$(compgen -G "$venv/lib/python3.*/site-packages/samcli/local/rapid/aws-lambda-rie-$arch" | head -n 1 || true)"
  if [[ -z "$rie" ]]; then
    printf 'python: aws-sam-cli %s in %s ships no aws-lambda-rie-%s\n' "$PY_SAM_CLI_VERSION" "$venv" "$arch" >&2
    return 1
  fi
  [[ -x "$rie" ]] || chmod +x "$rie"
  export AWS_LAMBDA_RIE="$rie"
}

# checkov_env: installs pinned checkov into its own venv and exports $CHECKOV_VENV.
checkov_env() {
  local stamp="$PY_CHECKOV_VENV/.checkov-version"
  py_venv "$PY_CHECKOV_VENV"
  if [[ "$(cat "$stamp" 2>/dev/null)" != "$PY_CHECKOV_VERSION" ]]; then
    printf 'python: installing checkov %s (~1 min)\n' "$PY_CHECKOV_VERSION" >&2
    "$PY_CHECKOV_VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip >&2
    "$PY_CHECKOV_VENV/bin/python" -m pip install --quiet --disable-pip-version-check "checkov==$PY_CHECKOV_VERSION" >&2
    echo "$PY_CHECKOV_VERSION" >"$stamp"
  fi
  export CHECKOV_VENV="$PY_CHECKOV_VENV"
}
