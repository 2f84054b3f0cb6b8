"""What the capture benchmarks share: servers as subprocesses, the quiet wait, rounds, medians.

The scripts import it as a sibling (`from servers import ...`), like bench/scratch.py.

Method: all servers of one database run at once, each on its own loopback port. After the
warm-up, `wait_quiet` waits until every server has used < 5% of a core over a 0.5 s window
(CPU time from /proc/<pid>/stat), so start-up work (voc's scheduler catch-up) stays out of
the numbers. Then, for each concurrency level, `measure_level` runs R rounds; a round measures
every server once, in an order rotated from round to round, so drift and machine noise spread
over all servers instead of landing on one side of a ratio. Before each turn all servers must
be quiet again (1.5 s), so work one server defers past its turn does not slow the next one.
A server's result is the median throughput of its rounds, p50/p99 over all its latencies
pooled, and its CPU time per request: in its turns, and "after" them (deferred work, such as
voc's dispatcher); ratios use the medians.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parent.parent
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

# (requests per second, latencies in seconds, failed requests) of one measurement
Measurement = tuple[float, list[float], int]


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system, all threads) a process has used so far."""
    with open(f"/proc/{pid}/stat") as stat:
        # The command name (field 2) is in parentheses and may hold spaces: split after it.
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime (fields 14, 15)


@dataclass
class Server:
    """One server under test, running as a subprocess with its output in a temporary file."""

    name: str
    port: int
    process: subprocess.Popen[bytes]
    log: IO[bytes]

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def cpu(self) -> float:
        return cpu_seconds(self.process.pid)

    def output(self, limit: int = 3000) -> str:
        """The end of what it printed (for error messages)."""
        self.log.flush()
        self.log.seek(0)
        return self.log.read().decode(errors="replace")[-limit:]


def _wait_listening(server: Server, deadline: float) -> None:
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise SystemExit(f"{server.name} exited with {server.process.returncode}:\n"
                             f"{server.output()}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", server.port)) == 0:
                return
        time.sleep(0.1)
    raise SystemExit(f"{server.name}: nothing listens on {server.port}\n{server.output()}")


def _stop(servers: Sequence[Server]) -> None:
    for server in servers:
        if server.process.poll() is None:
            server.process.send_signal(signal.SIGTERM)
    for server in servers:
        try:
            server.process.wait(30)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait()
        server.log.close()


@contextlib.contextmanager
def running(specs: Sequence[tuple[str, list[str], dict[str, str], int]]) -> Iterator[list[Server]]:
    """Start every (name, argv after the interpreter, env, port) at once; wait until each
    listens (uvicorn listens once its start-up is done); stop them all on the way out."""
    servers: list[Server] = []
    try:
        for name, args, env, port in specs:
            # A file, not a pipe: a pipe nobody reads blocks the server once it is full.
            log = tempfile.TemporaryFile()  # noqa: SIM115 (closed in _stop)
            process = subprocess.Popen([sys.executable, *args], env=env, cwd=ROOT,
                                       stdout=log, stderr=subprocess.STDOUT)
            servers.append(Server(name, port, process, log))
        deadline = time.monotonic() + 60
        for server in servers:
            _wait_listening(server, deadline)
        yield servers
    finally:
        _stop(servers)


def wait_quiet(servers: Sequence[Server], *, windows: int = 1, share: float = 0.05,
               window: float = 0.5, timeout: float = 30.0) -> tuple[bool, str]:
    """Wait until every server used < `share` of a core in each of `windows` consecutive
    `window`s; give up after `timeout` seconds. (quiet?, a note on it)."""
    started = time.monotonic()
    peak: dict[str, float] = {}  # the busiest window of each server that was busy
    calm = 0
    while True:
        before = {s.name: s.cpu() for s in servers}
        time.sleep(window)
        busy = {s.name: (s.cpu() - before[s.name]) / window for s in servers}
        busy = {name: used for name, used in busy.items() if used >= share}
        for name, used in busy.items():
            peak[name] = max(used, peak.get(name, 0.0))
        calm = 0 if busy else calm + 1
        waited = time.monotonic() - started
        if calm >= windows:
            was = ", ".join(f"{name} up to {used:.0%}" for name, used in peak.items())
            return True, f"quiet after {waited:.1f} s" + (
                f" (busy before: {was} of a core)" if was else "")
        if waited >= timeout:
            still = ", ".join(f"{name} {used:.0%}" for name, used in busy.items()) or "-"
            return False, (f"NOT quiet after {timeout:.0f} s (busy in the last {window} s: "
                           f"{still} of a core); measuring anyway")


@dataclass
class Result:
    """One server at one concurrency level, over all rounds."""

    rates: list[float] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    failures: int = 0
    cpu: float = 0.0  # CPU seconds it used in its own turns
    cpu_outside: float = 0.0  # ... outside them (in the waits and the others' turns)
    idle_cpu: float = 0.0  # CPU seconds it used while the other servers were measured
    idle_time: float = 0.0  # seconds the other servers were measured

    @property
    def rate(self) -> float:
        return statistics.median(self.rates)

    def line(self, name: str, unit: str) -> str:
        q = statistics.quantiles(self.latencies, n=100)
        rounds = " ".join(f"{r:.0f}" for r in self.rates)
        per = 1000 / len(self.latencies)  # CPU seconds -> ms per request
        text = (f"  {name:20} {self.rate:7.0f} {unit}/s  p50 {q[49] * 1000:6.1f} ms  "
                f"p99 {q[98] * 1000:6.1f} ms  cpu {self.cpu * per:4.1f} ms/req")
        if self.cpu_outside * per >= 0.05:
            text += f" +{self.cpu_outside * per:.1f} after"
        text += f"  (rounds: {rounds})"
        if self.idle_time and self.idle_cpu / self.idle_time >= 0.05:
            text += f"  [{self.idle_cpu / self.idle_time:.0%} of a core while others ran]"
        if self.failures:
            text += f"  {self.failures} FAILED"
        return text


def measure_level(servers: Sequence[Server], rounds: int, first_round: int,
                  measure: Callable[[Server], Measurement], note: Callable[[str], None]
                  ) -> dict[str, Result]:
    """`rounds` rounds, each measuring every server once; round k starts with server
    (first_round + k) mod n, so the order rotates (pass a running count as `first_round`).

    Before each turn (and after the last) it waits until all servers are quiet for 1.5 s (3
    windows: voc's dispatcher sleeps up to 1 s before it takes up work a turn left), so work
    a server defers past its turn lands on no other server's numbers; it is reported as CPU
    time "after" instead. `note` gets a line whenever that wait gives up.
    """
    results = {s.name: Result() for s in servers}
    start = {s.name: s.cpu() for s in servers}

    def settle(before: str) -> None:
        quiet, text = wait_quiet(servers, windows=3)
        if not quiet:
            note(f"  before {before}: {text}")

    for k in range(rounds):
        shift = (first_round + k) % len(servers)
        for server in [*servers[shift:], *servers[:shift]]:
            settle(f"{server.name}, round {k + 1}")
            others = [s for s in servers if s is not server]
            before = {s.name: s.cpu() for s in servers}
            started = time.perf_counter()
            rate, latencies, failures = measure(server)
            elapsed = time.perf_counter() - started
            result = results[server.name]
            result.rates.append(rate)
            result.latencies += latencies
            result.failures += failures
            result.cpu += server.cpu() - before[server.name]
            for other in others:
                results[other.name].idle_cpu += other.cpu() - before[other.name]
                results[other.name].idle_time += elapsed
    settle("the next level")
    for server in servers:
        result = results[server.name]
        result.cpu_outside = server.cpu() - start[server.name] - result.cpu
    return results


def ratios(results: dict[str, Result], ours: str, against: Sequence[str]) -> str:
    """`ours/x 0.93  ours/y 1.10`: throughput ratios of the median rates."""
    return "  ".join(f"{ours}/{name} {results[ours].rate / results[name].rate:.2f}"
                     for name in against)
