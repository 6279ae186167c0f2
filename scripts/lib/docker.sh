# shellcheck shell=bash
# scripts/lib/docker.sh -- a private Docker engine for `sam local`, offline
# and on loopback only. Sourced.
#
# - `docker_install`: Debian's docker.io (dockerd, containerd, runc) and
#   debootstrap through apt-get, when missing (root, as on CI). A stock
#   dockerd with a 172.17.x bridge is never started: the package's own
#   service start is refused by /usr/sbin/policy-rc.d where there is one,
#   and this script stops with an error where there is none.
# - `docker_start`: starts its own dockerd (state under .tools/docker, a
#   private socket) with no bridge, no iptables, no IP forwarding or
#   masquerading: containers get no network of their own (SAM's are put on
#   the host's by scripts/lib/sam-launcher.py) and nothing is routed out.
#   Exports DOCKER_HOST. `docker_stop` stops it and unmounts what dockerd
#   leaves mounted.
# - `docker_base_image`: no registry can be reached, so the one image SAM
#   needs, public.ecr.aws/lambda/provided:al2023-x86_64 (SAM adds its own
#   emulator on top, offline), is made locally once: a Debian minimal root
#   file system (debootstrap --variant=minbase, from the Debian mirror apt
#   uses) with Lambda's WORKDIR and environment. Its glibc (2.36) is newer
#   than AL2023's (2.34): scripts/sam-local refuses binaries that need more
#   than 2.34, so what runs here also runs on Lambda.
#
# With Docker Desktop, or any Docker that can pull images, none of this is
# needed: scripts/sam-local uses the Docker it finds (DOCKER_HOST or the
# default socket) when SAM_LOCAL_DOCKER=system.

DOCKER_REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
DOCKER_DIR="$DOCKER_REPO/.tools/docker"
DOCKER_SOCKET="$DOCKER_DIR/docker.sock"
DOCKER_BASE_IMAGE="public.ecr.aws/lambda/provided:al2023-x86_64"
DOCKER_PID=""

docker_install() {
  local missing=()
  command -v dockerd >/dev/null || missing+=(docker.io)
  command -v debootstrap >/dev/null || missing+=(debootstrap)
  command -v objdump >/dev/null || missing+=(binutils)
  if ((${#missing[@]} == 0)); then
    return 0
  fi
  if [[ ! -x /usr/sbin/policy-rc.d ]] && [[ " ${missing[*]} " == *" docker.io "* ]]; then
    echo "docker: no /usr/sbin/policy-rc.d: installing docker.io here would start a stock dockerd (172.17.x bridge, iptables); install it yourself or add a policy-rc.d that refuses service starts" >&2
    return 1
  fi
  if [[ "$(id -u)" != 0 ]]; then
    echo "docker: ${missing[*]} missing; install them (apt-get install --no-install-recommends ${missing[*]}) or run as root" >&2
    return 1
  fi
  echo "docker: installing ${missing[*]} (Debian packages)" >&2
  apt-get update -qq >&2 || true
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
}

# docker_start: our own dockerd, if it is not running yet.
docker_start() {
  mkdir -p "$DOCKER_DIR"
  export DOCKER_HOST="unix://$DOCKER_SOCKET"
  if [[ -S "$DOCKER_SOCKET" ]] && docker version >/dev/null 2>&1; then
    return 0
  fi
  rm -f "$DOCKER_SOCKET" "$DOCKER_DIR/dockerd.pid"
  dockerd --data-root "$DOCKER_DIR/data" --exec-root "$DOCKER_DIR/exec" \
    --pidfile "$DOCKER_DIR/dockerd.pid" -H "unix://$DOCKER_SOCKET" \
    --bridge=none --iptables=false --ip6tables=false --ip-forward=false --ip-masq=false \
    --storage-driver overlay2 >"$DOCKER_DIR/dockerd.log" 2>&1 &
  DOCKER_PID=$!
  for _ in $(seq 1 100); do
    docker version >/dev/null 2>&1 && return 0
    kill -0 "$DOCKER_PID" 2>/dev/null || break
    sleep 0.2
  done
  echo "docker: dockerd did not start; see $DOCKER_DIR/dockerd.log" >&2
  tail -n 20 "$DOCKER_DIR/dockerd.log" >&2 || true
  return 1
}

# docker_stop: stops the dockerd docker_start started (not one it found).
docker_stop() {
  [[ -n "$DOCKER_PID" ]] || return 0
  kill "$DOCKER_PID" 2>/dev/null || true
  for _ in $(seq 1 200); do
    kill -0 "$DOCKER_PID" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$DOCKER_PID" 2>/dev/null; then
    echo "docker: dockerd did not stop within 20 s; killing it" >&2
    kill -9 "$DOCKER_PID" 2>/dev/null || true
  fi
  wait "$DOCKER_PID" 2>/dev/null || true
  DOCKER_PID=""
  # dockerd leaves its default network namespace mounted.
  if mountpoint -q "$DOCKER_DIR/exec/netns/default" 2>/dev/null; then
    umount "$DOCKER_DIR/exec/netns/default" || true
  fi
}

# docker_base_image: makes $DOCKER_BASE_IMAGE locally if the engine has none.
# The root file system is kept as a tarball in DOCKER_ROOTFS_CACHE
# (~/.cache/clients-api by default): a fresh clone on the same machine (CI)
# imports it in a few seconds instead of running debootstrap (~30 s-2.5 min,
# depending on the mirror).
docker_base_image() {
  if docker image inspect "$DOCKER_BASE_IMAGE" >/dev/null 2>&1; then
    return 0
  fi
  local suite mirror root cache tarball
  suite="$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")"
  cache="${DOCKER_ROOTFS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/clients-api}"
  tarball="$cache/lambda-base-$suite-$(uname -m).tar"
  if [[ ! -s "$tarball" ]]; then
    mirror="${DEBIAN_MIRROR:-$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null)}"
    mirror="${mirror:-$(awk '/^deb / {print $2; exit}' /etc/apt/sources.list 2>/dev/null)}"
    if [[ -z "$mirror" ]]; then
      echo "docker: no Debian mirror found in apt's sources; set DEBIAN_MIRROR" >&2
      return 1
    fi
    root="$(mktemp -d "$DOCKER_DIR/rootfs.XXXXXX")"
    echo "docker: making $DOCKER_BASE_IMAGE from a Debian $suite minbase ($mirror)" >&2
    if ! debootstrap --variant=minbase "$suite" "$root" "$mirror" >"$DOCKER_DIR/debootstrap.log" 2>&1; then
      echo "docker: debootstrap failed; see $DOCKER_DIR/debootstrap.log" >&2
      rm -rf "$root"
      return 1
    fi
    # What a Lambda base image has no use for.
    rm -rf "$root"/usr/share/{doc,man,info,locale} "$root"/var/cache/apt/* "$root"/var/lib/apt/lists/*
    mkdir -p "$root/var/task" "$root/var/runtime" "$root/opt" "$cache"
    tar -C "$root" -cf "$tarball.partial" . && mv "$tarball.partial" "$tarball"
    rm -rf "$root"
  fi
  docker import \
    --change 'WORKDIR /var/task' \
    --change 'ENV LAMBDA_TASK_ROOT=/var/task' \
    --change 'ENV LAMBDA_RUNTIME_DIR=/var/runtime' \
    --change 'ENV PATH=/var/lang/bin:/usr/local/bin:/usr/bin:/bin:/opt/bin' \
    --change 'ENV LD_LIBRARY_PATH=/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib' \
    --change 'ENV LANG=C.UTF-8' \
    --message "Debian $suite minbase standing in for AL2023 (scripts/lib/docker.sh)" \
    "$tarball" "$DOCKER_BASE_IMAGE" >/dev/null
}
