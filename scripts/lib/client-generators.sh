# shellcheck shell=bash
# scripts/lib/client-generators.sh -- what the docs-page and generated-client
# tests need, installed once and cached under .tools/ (git-ignored). Sourced.
#
# - `browser_env`: Debian's Chromium and ChromeDriver (apt-get, with sudo
#   only when not root) unless /usr/bin/chromium exists, and pinned
#   Playwright for Python in the project venv (it drives /usr/bin/chromium;
#   Playwright's own browser download is never used). Needs $PY_VENV
#   (scripts/lib/python-env.sh).
# - `client_generators_env`: pinned openapi-python-client in the project
#   venv, and openapi-typescript + openapi-fetch + typescript from
#   tests/clients/package-lock.json (npm ci) in .tools/ts-clients; exports
#   $TS_CLIENTS (that directory) for tests/tests/generated_clients.rs.

GEN_REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PY_PLAYWRIGHT_VERSION="1.65.2"
PY_OPENAPI_PYTHON_CLIENT_VERSION="0.29.1"
GEN_TS_DIR="$GEN_REPO/.tools/ts-clients"

# gen_pip_pin PACKAGE VERSION: installs PACKAGE==VERSION into the venv unless it is there.
gen_pip_pin() {
  local installed
  installed="$("$PY_VENV/bin/python" -c "import importlib.metadata as m; print(m.version('$1'))" 2>/dev/null || true)"
  if [[ "$installed" != "$2" ]]; then
    printf 'python: installing %s %s\n' "$1" "$2" >&2
    "$PY_VENV/bin/pip" install --quiet --disable-pip-version-check "$1==$2" >&2
  fi
}

browser_env() {
  if [[ ! -x /usr/bin/chromium ]]; then
    local sudo=()
    [[ "$(id -u)" -eq 0 ]] || sudo=(sudo)
    printf 'browser: installing chromium and chromium-driver (apt-get)\n' >&2
    "${sudo[@]}" apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq chromium chromium-driver >&2
  fi
  gen_pip_pin playwright "$PY_PLAYWRIGHT_VERSION"
}

client_generators_env() {
  gen_pip_pin openapi-python-client "$PY_OPENAPI_PYTHON_CLIENT_VERSION"
  local stamp="$GEN_TS_DIR/.lock-sha256" wanted
  wanted="$(cat "$GEN_REPO/tests/clients/package.json" "$GEN_REPO/tests/clients/package-lock.json" | sha256sum | cut -d' ' -f1)"
  if [[ "$(cat "$stamp" 2>/dev/null)" != "$wanted" || ! -x "$GEN_TS_DIR/node_modules/.bin/openapi-typescript" ]]; then
    printf 'npm: installing openapi-typescript, openapi-fetch, typescript into .tools/ts-clients\n' >&2
    mkdir -p "$GEN_TS_DIR"
    cp "$GEN_REPO/tests/clients/package.json" "$GEN_REPO/tests/clients/package-lock.json" "$GEN_TS_DIR/"
    (cd "$GEN_TS_DIR" && npm ci --no-audit --no-fund --loglevel=error >&2)
    echo "$wanted" >"$stamp"
  fi
  export TS_CLIENTS="$GEN_TS_DIR"
}
