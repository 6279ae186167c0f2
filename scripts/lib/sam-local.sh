# shellcheck shell=bash
# scripts/lib/sam-local.sh -- what `sam local invoke` / `sam local start-api`
# need here, for scripts/sam-local and the SAM tests of scripts/test
# (tests/tests/sam_local.rs). Sourced; needs scripts/lib/python-env.sh and
# scripts/lib/docker.sh sourced first.
#
# `sam_local_prepare` (after `cargo build --bins`):
# - the pinned SAM CLI (`sam_cli_env`) and its launcher,
#   scripts/lib/sam-launcher.py (containers on the host's network);
# - Docker: our own dockerd and base image (scripts/lib/docker.sh), or, with
#   SAM_LOCAL_DOCKER=system, the Docker already there (Docker Desktop, a
#   dockerd that can pull images);
# - the function binaries of target/debug as SAM runs them: a folder per
#   function holding `bootstrap`, under .aws-sam/local beside a copy of
#   template.yaml, whose CodeUri (functions/<binary>) then names that
#   folder. No `sam build`: the debug binaries are the ones the other tests
#   ran; each is refused if it needs a newer glibc than AL2023's (2.34);
# - an environment in which SAM reaches for nothing outside the machine:
#   its STS call (the account id) goes to a closed loopback port, no
#   telemetry, no instance metadata, its version check marked done.
# It exports SAM_LOCAL_PYTHON, SAM_LOCAL_LAUNCHER, SAM_LOCAL_TEMPLATE,
# SAM_LOCAL_ARCH and SAM_LOCAL_SKIP_PULL (`--skip-pull-image`, or empty with
# a Docker that can pull).

SAM_LOCAL_REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
SAM_LOCAL_STAGE="$SAM_LOCAL_REPO/.aws-sam/local"
# AL2023's glibc: the newest symbol version a binary may need.
SAM_LOCAL_MAX_GLIBC="2.34"

# sam_local_glibc_check BINARY...: fails on a binary needing glibc > 2.34.
sam_local_glibc_check() {
  local binary needed
  command -v objdump >/dev/null || { echo "sam-local: objdump (binutils) is needed to check the binaries' glibc" >&2; return 1; }
  for binary in "$@"; do
    needed="$(objdump -T "$binary" | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -n 1)"
    if [[ -n "$needed" ]] && [[ "$(printf '%s\n%s\n' "$needed" "$SAM_LOCAL_MAX_GLIBC" | sort -V | tail -n 1)" != "$SAM_LOCAL_MAX_GLIBC" ]]; then
      echo "sam-local: $binary needs glibc $needed; Lambda's provided.al2023 has $SAM_LOCAL_MAX_GLIBC (build with cargo lambda, zig, for an older glibc)" >&2
      return 1
    fi
  done
}

sam_local_prepare() {
  sam_cli_env
  export SAM_LOCAL_PYTHON="$SAM_VENV/bin/python"
  export SAM_LOCAL_LAUNCHER="$SAM_LOCAL_REPO/scripts/lib/sam-launcher.py"

  case "$(uname -m)" in
    x86_64 | amd64) export SAM_LOCAL_ARCH=x86_64 ;;
    aarch64 | arm64) export SAM_LOCAL_ARCH=arm64 ;;
    *) echo "sam-local: no Lambda architecture for $(uname -m)" >&2; return 1 ;;
  esac

  if [[ "${SAM_LOCAL_DOCKER:-}" == system ]]; then
    docker version >/dev/null || { echo "sam-local: SAM_LOCAL_DOCKER=system but no Docker answers" >&2; return 1; }
    export SAM_LOCAL_SKIP_PULL=""
  else
    DOCKER_BASE_IMAGE="public.ecr.aws/lambda/provided:al2023-$SAM_LOCAL_ARCH"
    docker_install
    docker_start
    docker_base_image
    export SAM_LOCAL_SKIP_PULL="--skip-pull-image"
  fi

  local target function binaries=()
  target="$(cargo metadata --format-version 1 --no-deps | "$SAM_LOCAL_PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/debug"
  rm -rf "$SAM_LOCAL_STAGE"
  mkdir -p "$SAM_LOCAL_STAGE/functions"
  cp "$SAM_LOCAL_REPO/template.yaml" "$SAM_LOCAL_STAGE/template.yaml"
  for function in "$SAM_LOCAL_REPO"/functions/*/; do
    function="$(basename "$function")"
    [[ -x "$target/$function" ]] || { echo "sam-local: $target/$function is not built (cargo build --bins)" >&2; return 1; }
    mkdir -p "$SAM_LOCAL_STAGE/functions/$function"
    cp "$target/$function" "$SAM_LOCAL_STAGE/functions/$function/bootstrap"
    binaries+=("$SAM_LOCAL_STAGE/functions/$function/bootstrap")
  done
  sam_local_glibc_check "${binaries[@]}"
  export SAM_LOCAL_TEMPLATE="$SAM_LOCAL_STAGE/template.yaml"

  export SAM_CLI_TELEMETRY=0
  export __SAM_CLI_APP_DIR="$SAM_LOCAL_REPO/.tools/sam-cli-app"
  mkdir -p "$__SAM_CLI_APP_DIR"
  export AWS_EC2_METADATA_DISABLED=true
  export AWS_REGION="${AWS_REGION:-us-east-1}"
  export AWS_DEFAULT_REGION="$AWS_REGION"
  export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-local}"
  export AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-local}"
  # SAM asks STS for the account id on every local run: a loopback port
  # nothing listens on answers at once ("No current session found").
  # One attempt: botocore's retries of that refused call cost ~8.5 s of
  # every SAM command (measured: invoke 10.6 s -> 2.0 s).
  if [[ "${SAM_LOCAL_DOCKER:-}" != system ]]; then
    export AWS_ENDPOINT_URL="http://127.0.0.1:$(sam_local_closed_port)"
    export AWS_MAX_ATTEMPTS=1
  fi
}

# sam_local_closed_port: a loopback port nothing listens on (just now).
sam_local_closed_port() {
  "$SAM_LOCAL_PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

sam_local_stop() {
  docker_stop
}
