#!/usr/bin/env python3
"""SAM CLI's own command line (`sam ...`), with its Lambda containers on the
host's network. Inside this process only; SAM itself is not modified.

Why: SAM CLI 1.170 does not apply `--docker-network host` (aws-sam-cli
issues #4236 and #3609; the fix, PR #7278, was closed unmerged). Its
containers land on dockerd's default network, which the private dockerd of
scripts/lib/docker.sh (no bridge) makes an isolated namespace: SAM cannot
reach the emulator in the container ("Timed out while attempting to
establish a connection to the container"; start-api answers 502) and the
function cannot reach DynamoDB Local on 127.0.0.1.

What: every container SAM creates with the label
`sam.cli.container.type=lambda` is created with `network_mode=host`, no
published ports, and the emulator (aws-lambda-rie, SAM's entry point) told
to listen on 127.0.0.1 at the port SAM polls (the one it meant to publish
for the container's 8080) and to serve its Runtime API on a free 127.0.0.1
port of its own (two warm containers would both want 9001), taken outside
the kernel's ephemeral range (RUNTIME_API_PORTS). Nothing listens
on another interface; the function reaches DynamoDB Local on 127.0.0.1.

Also here, because SAM needs them in-process:
- SIGINT and SIGTERM end SAM as Ctrl-C does (a shell starts background jobs
  with SIGINT ignored, and Python keeps it ignored), so `kill <pid>` lets SAM
  stop and remove its containers; any container SAM created and left (seen
  with --warm-containers EAGER) is removed when SAM returns;
- SAM's weekly version check (an HTTPS call) is marked done.

It depends on SAM's internals, so aws-sam-cli is pinned
(scripts/lib/python-env.sh) and `sam-launcher.py --self-check` (run by
tests/tests/sam_local.rs) builds a container SAM's own way, with a stand-in
Docker client, and fails loudly if the patch no longer applies.

  sam-launcher.py local start-api ...     # what `sam local start-api ...` does
  sam-launcher.py --self-check
"""
import json
import os
import signal
import socket
import sys
from datetime import datetime, timezone

import docker.models.containers as docker_containers

PINNED_SAM_CLI = "1.170.0"
LAMBDA_LABEL = ("sam.cli.container.type", "lambda")
EMULATOR_PORT = "8080"  # SAM's RAPID_PORT_CONTAINER: where aws-lambda-rie listens by default
EMULATOR = "/var/rapid/aws-lambda-rie"

_create = docker_containers.ContainerCollection.create
_created = []


class PatchNoLongerApplies(RuntimeError):
    """SAM CLI creates its containers otherwise than this launcher expects."""


# The emulators' Runtime API ports are drawn from here: below the kernel's
# ephemeral range (net.ipv4.ip_local_port_range, 32768-60999 by default),
# where every `bind(port 0)` lands (the tests' start-api port, DynamoDB
# Local's, any client socket), and above SAM's own emulator ports
# (5000-9000). A port taken between this pick and the emulator's bind
# can then only be another emulator's, never a port some other process was
# just handed by the kernel and is about to listen on (a CI run had the
# tests' start-api port answer "404 page not found", the emulator's own
# answer: a container's Runtime API had taken the port first).
RUNTIME_API_PORTS = range(10000, 30000)


def _free_loopback_port():
    """A port of RUNTIME_API_PORTS nothing listens on now, picked at random."""
    import random

    for port in random.sample(RUNTIME_API_PORTS, 200):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free 127.0.0.1 port in {RUNTIME_API_PORTS}")


def host_network(kwargs):
    """The create() arguments of a SAM Lambda container, on the host's network."""
    kwargs = dict(kwargs)
    ports = dict(kwargs.pop("ports", None) or {})
    binding = ports.pop(EMULATOR_PORT, None)
    if not isinstance(binding, tuple) or len(binding) != 2:
        raise PatchNoLongerApplies(
            f"SAM no longer publishes the emulator's port {EMULATOR_PORT} as (interface, port): {binding!r}"
        )
    interface, port = binding
    if interface not in ("127.0.0.1", "localhost"):
        raise PatchNoLongerApplies(f"SAM publishes the emulator on {interface}, not on loopback")
    entrypoint = list(kwargs.get("entrypoint") or [])
    if not entrypoint or entrypoint[0] != EMULATOR:
        raise PatchNoLongerApplies(f"SAM's entry point is no longer {EMULATOR}: {entrypoint!r}")
    if any(arg.startswith(("--runtime-interface-emulator-address", "--runtime-api-address")) for arg in entrypoint):
        raise PatchNoLongerApplies(f"SAM now sets the emulator's addresses itself: {entrypoint!r}")
    # Debugger ports (sam local ... -d) were published on the same port
    # numbers: with the host's network they are there already.
    entrypoint += [
        "--runtime-interface-emulator-address", f"127.0.0.1:{port}",
        "--runtime-api-address", f"127.0.0.1:{_free_loopback_port()}",
    ]
    kwargs["entrypoint"] = entrypoint
    kwargs["network_mode"] = "host"
    return kwargs


def _create_on_host_network(self, image, command=None, **kwargs):
    labels = kwargs.get("labels") or {}
    if labels.get(LAMBDA_LABEL[0]) == LAMBDA_LABEL[1]:
        kwargs = host_network(kwargs)
    container = _create(self, image, command, **kwargs)
    if labels.get(LAMBDA_LABEL[0]) == LAMBDA_LABEL[1]:
        _created.append(container)
    return container


def _check_version():
    import samcli

    if samcli.__version__ != PINNED_SAM_CLI:
        raise PatchNoLongerApplies(
            f"aws-sam-cli {samcli.__version__} is not the {PINNED_SAM_CLI} this launcher was checked against: "
            "run `sam-launcher.py --self-check`, adapt host_network(), then the pin in scripts/lib/python-env.sh"
        )


def _version_check_done():
    """SAM's weekly version check (a call to PyPI) marked as just done."""
    from samcli.cli.global_config import GlobalConfig

    GlobalConfig().last_version_check = datetime.now(timezone.utc).timestamp()


def _stop_like_ctrl_c(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def _remove_left_containers():
    for container in _created:
        try:
            container.remove(force=True)
        except Exception:  # already removed by SAM: nothing left to do
            pass


def self_check():
    """Creates a Lambda container the way SAM 1.170 does, with a stand-in
    Docker client, and checks what would reach dockerd."""
    _check_version()
    from samcli.local.docker.container import Container, ContainerContext
    from samcli.local.docker.lambda_container import LambdaContainer

    captured = {}

    class StandInImage:
        def build(self, *args, **kwargs):
            return "public.ecr.aws/lambda/provided:al2023-rapid-x86_64"

        def get_config(self, image):
            return {}

    class StandInCollection(docker_containers.ContainerCollection):
        def __init__(self):
            super().__init__(client=None)

    class Created:
        id = "0" * 64

    def capture(self, image, command=None, **kwargs):
        captured.update(kwargs, image=image)
        return Created()

    class StandInClient:
        containers = StandInCollection()

    global _create
    real_create, _create = _create, capture
    docker_containers.ContainerCollection.create = _create_on_host_network
    try:
        container = LambdaContainer(
            runtime="provided.al2023", imageuri=None, handler="bootstrap", packagetype="Zip",
            image_config=None, code_dir=os.getcwd(), layers=[], lambda_image=StandInImage(),
            architecture="x86_64", container_host="localhost",
        )
        container._validated_docker_client = StandInClient()
        container.create(ContainerContext.INVOKE)
    finally:
        _create = real_create
        docker_containers.ContainerCollection.create = real_create

    problems = []
    if captured.get("labels", {}).get(LAMBDA_LABEL[0]) != LAMBDA_LABEL[1]:
        problems.append(f"SAM no longer labels its Lambda containers {LAMBDA_LABEL}: {captured.get('labels')}")
    if captured.get("network_mode") != "host" or "ports" in captured:
        problems.append(f"not on the host's network: network_mode={captured.get('network_mode')!r}, ports={captured.get('ports')!r}")
    entrypoint = captured.get("entrypoint", [])
    expected = f"127.0.0.1:{container.rapid_port_host}"
    if expected not in entrypoint:
        problems.append(f"the emulator does not listen on {expected}, the port SAM polls: {entrypoint}")
    if container._container_host not in ("localhost", "127.0.0.1"):
        problems.append(f"SAM polls {container._container_host}, not loopback")
    if not issubclass(type(container), Container) or Container.RAPID_PORT_CONTAINER != EMULATOR_PORT:
        problems.append(f"SAM's emulator port is {Container.RAPID_PORT_CONTAINER}, not {EMULATOR_PORT}")
    report = {"sam_cli": PINNED_SAM_CLI, "create": {k: v for k, v in captured.items() if k != "volumes"}}
    if problems:
        print(json.dumps(report, indent=1, default=str), file=sys.stderr)
        for problem in problems:
            print(f"sam-launcher: {problem}", file=sys.stderr)
        sys.exit(1)
    print(json.dumps(report, default=str))


def main():
    if sys.argv[1:] == ["--self-check"]:
        self_check()
        return
    _check_version()
    docker_containers.ContainerCollection.create = _create_on_host_network
    signal.signal(signal.SIGINT, _stop_like_ctrl_c)
    signal.signal(signal.SIGTERM, _stop_like_ctrl_c)
    _version_check_done()
    from samcli.cli.main import cli

    try:
        cli.main(args=sys.argv[1:], prog_name="sam")
    finally:
        _remove_left_containers()


if __name__ == "__main__":
    try:
        main()
    except PatchNoLongerApplies as problem:
        print(f"sam-launcher: {problem}", file=sys.stderr)
        sys.exit(3)
