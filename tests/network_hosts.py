"""Hosts of a test network: Linux network namespaces joined by one bridge, made and removed by a test.

Each host is a network namespace with one interface, `eth0`, holding an address of a private
range nothing on these machines uses (`SUBNET`, 10.213.7.0/24), plugged into a bridge that
lives in a namespace of its own (the switch). Both ends of every link are created inside their
namespaces: nothing is added to the machine's own namespace, and no host has a route beyond the
subnet, so what runs on a host reaches the other hosts and nothing else. Names carry the test
process's pid (parallel pytest workers do not collide), and everything is deleted when the block
ends, also when it failed. Needs root and iproute2's `ip`: `unavailable()` says why not.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

#: The first three octets of the hosts' addresses: the n-th role given is host SUBNET.n.
SUBNET = "10.213.7"
PREFIX_LENGTH = 24
#: A test process may build several networks one after another: each gets names of its own.
_NETWORKS = itertools.count(1)
IP_TIMEOUT_S = 10
STOP_WAIT_S = 10


@dataclass(frozen=True)
class Host:
    """One machine of the test network: a namespace and its address on the bridge."""

    role: str
    namespace: str
    address: str

    def command(self, *argv: str) -> list[str]:
        """`argv` run on this host (`ip netns exec`: it runs the command itself, no shell)."""
        return ["ip", "netns", "exec", self.namespace, *argv]

    def interface_counters(self) -> dict[str, int]:
        """Bytes and packets `eth0` has received and sent (the kernel's own counters)."""
        shown = _ip("-n", self.namespace, "-s", "-j", "link", "show", "dev", "eth0")
        stats = json.loads(shown)[0]["stats64"]
        return {
            f"{direction}_{unit}": int(stats[direction][unit])
            for direction in ("rx", "tx")
            for unit in ("bytes", "packets")
        }


def unavailable() -> str | None:
    """Why no test network can be made here, or None when it can (root and `ip`)."""
    if shutil.which("ip") is None:
        return "iproute2's `ip` command is not installed (Debian: apt-get install iproute2)"
    if os.geteuid() != 0:
        return "network namespaces need root (CI runs the tests as root)"
    return None


class NetworkUnavailable(RuntimeError):
    """The kernel or the container refused the first namespace: the caller skips, saying why."""


def _ip(*args: str) -> str:
    done = subprocess.run(
        ["ip", *args], capture_output=True, text=True, timeout=IP_TIMEOUT_S, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout


@contextmanager
def network(*roles: str) -> Iterator[dict[str, Host]]:
    """One host per role, on one bridge, for the block; every namespace and link deleted after.

    Stop what runs on the hosts before the block ends (`running` does): a namespace outlives
    `ip netns del` while a process still lives in it."""
    tag = f"octoqa-{os.getpid()}-{next(_NETWORKS)}"
    switch = f"{tag}-switch"
    made: list[str] = []
    try:
        try:
            _ip("netns", "add", switch)
        except RuntimeError as exc:
            raise NetworkUnavailable(str(exc)) from None
        made.append(switch)
        _ip("-n", switch, "link", "add", "br0", "type", "bridge")
        _ip("-n", switch, "link", "set", "br0", "up")
        hosts = {
            role: _plug_in(f"{tag}-{role}", role, port, switch, made)
            for port, role in enumerate(roles, start=1)
        }
        yield hosts
    finally:
        if made:
            subprocess.run(
                ["ip", "-n", switch, "link", "del", "br0"],
                capture_output=True,
                timeout=IP_TIMEOUT_S,
                check=False,
            )
        for namespace in reversed(made):  # deleting a namespace deletes its end of each link
            subprocess.run(
                ["ip", "netns", "del", namespace],
                capture_output=True,
                timeout=IP_TIMEOUT_S,
                check=False,
            )


def _plug_in(namespace: str, role: str, port: int, switch: str, made: list[str]) -> Host:
    """A namespace with `eth0` at SUBNET.port, its peer `pN` a port of the switch's bridge."""
    _ip("netns", "add", namespace)
    made.append(namespace)
    peer = f"p{port}"
    _ip("link", "add", "eth0", "netns", namespace, "type", "veth", "peer", "name", peer,
        "netns", switch)  # fmt: skip
    _ip("-n", switch, "link", "set", peer, "master", "br0")
    _ip("-n", switch, "link", "set", peer, "up")
    address = f"{SUBNET}.{port}"
    _ip("-n", namespace, "addr", "add", f"{address}/{PREFIX_LENGTH}", "dev", "eth0")
    _ip("-n", namespace, "link", "set", "eth0", "up")
    _ip("-n", namespace, "link", "set", "lo", "up")
    return Host(role, namespace, address)


# --- Processes on the hosts ---------------------------------------------------------------------

#: Runs on a host: waits until a TCP port of another host accepts connections, or gives up.
_WAIT_LISTENING = """
import socket, sys, time
address, port, deadline = sys.argv[1], int(sys.argv[2]), time.monotonic() + float(sys.argv[3])
while True:
    try:
        socket.create_connection((address, port), timeout=0.5).close()
        break
    except OSError:
        if time.monotonic() > deadline:
            sys.exit(f"nothing listened on {address}:{port}")
        time.sleep(0.1)
"""


def wait_listening(client: Host, server: Host, port: int, timeout_s: float) -> None:
    """Until `server` accepts connections on `port`, seen from `client` across the bridge."""
    argv = client.command(sys.executable, "-c", _WAIT_LISTENING, server.address, str(port),
                          str(timeout_s))  # fmt: skip
    done = subprocess.run(
        argv, capture_output=True, text=True, timeout=timeout_s + IP_TIMEOUT_S, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(done.stderr.strip() or f"{server.address}:{port} never listened")


@contextmanager
def running(
    commands: Mapping[str, list[str]], env: Mapping[str, str], log_dir: Path
) -> Iterator[dict[str, subprocess.Popen[str]]]:
    """Start each named command (a process on one host) for the block, its output in
    `log_dir/<name>.log`; stop any still running after it, so that no process holds a namespace
    the network is about to delete."""
    log_dir.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        yield {
            name: stack.enter_context(_started(command, env, log_dir / f"{name}.log"))
            for name, command in commands.items()
        }


@contextmanager
def _started(
    command: list[str], env: Mapping[str, str], log: Path
) -> Iterator[subprocess.Popen[str]]:
    with log.open("w", encoding="utf-8") as output:
        process = subprocess.Popen(
            command, stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            text=True, env=dict(env),
        )  # fmt: skip
        try:
            yield process
        finally:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(STOP_WAIT_S)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
