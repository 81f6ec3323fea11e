"""The load: wrk (Debian's `wrk` package) with `send.lua` for the request mix.

wrk, because its client costs little next to what it measures: C with an event loop
and a LuaJIT request builder, so 8 connections from 2 threads keep a bare endpoint of
thousands of requests a second busy on a 2-core machine without taking the server's
cores (a Python load tool would need more CPU than the server it drives).
"""

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from django.core.management import CommandError

SCRIPT = Path(__file__).with_name("send.lua")
MARKER = "BENCHMARK "


@dataclass(frozen=True)
class Load:
    """One wrk run's settings, the same for every run of a benchmark."""

    duration: float  # seconds
    connections: int = 8
    threads: int = 2


@dataclass(frozen=True)
class Mix:
    """What `send.lua` sends: recipients of a pool, known (mapped) ones with probability
    `known`, new ones from index `new_base` on."""

    path: str
    raw_key: str
    known: float
    mappings: int
    new_base: int
    codes: tuple[str, ...]


@dataclass(frozen=True)
class Result:
    requests: int
    seconds: float
    non_2xx: int
    socket_errors: int
    p50_ms: float
    p99_ms: float
    new_used: int  # new recipients per thread: the next run starts after them
    first_error: str = ""

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def wrk_path() -> str:
    path = shutil.which("wrk")
    if path is None:
        raise CommandError(
            "wrk is not installed: `apt-get install -y wrk` (scripts/benchmark does)."
        )
    return path


def command(url: str, load: Load, mix: Mix) -> list[str]:
    return [
        wrk_path(),
        f"--threads={load.threads}",
        f"--connections={load.connections}",
        f"--duration={load.duration:g}s",
        # A slow send is a slow sample, not a timeout that leaves the percentiles.
        "--timeout=30s",
        f"--script={SCRIPT}",
        url,
        "--",
        mix.path,
        mix.raw_key,
        f"{mix.known:g}",
        str(mix.mappings),
        str(mix.new_base),
        ",".join(mix.codes),
        str(load.threads),
    ]


def run(url: str, load: Load, mix: Mix) -> Result:
    done = subprocess.run(
        command(url, load, mix), capture_output=True, text=True, timeout=load.duration + 60
    )
    if done.returncode != 0:
        raise CommandError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
    return parse(done.stdout)


def parse(output: str) -> Result:
    """The figures of the line `send.lua`'s done() prints."""
    line = next((line for line in output.splitlines() if line.startswith(MARKER)), None)
    if line is None:
        raise CommandError(f"wrk printed no {MARKER.strip()} line:\n{output}")
    figures = json.loads(line[len(MARKER) :])
    return Result(
        requests=figures["requests"],
        seconds=figures["duration_us"] / 1e6,
        non_2xx=figures["non_2xx"],
        socket_errors=figures["socket_errors"],
        p50_ms=figures["p50_us"] / 1000,
        p99_ms=figures["p99_us"] / 1000,
        new_used=figures["new_used"],
        first_error=figures["first_error"],
    )
