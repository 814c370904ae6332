"""A fake Omni in a process of its own (`omnimigrate fake serve`), for benchmarks and the
tests whose figures a shared event loop would blur: the client's work must not delay the
server's clock, or requests paced apart would seem to arrive together."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_fake(
    documents: int,
    rate: int,
    period: float,
    work: Path,
    state: Path | None = None,
    limiter: tuple[str, int] = ("sliding", 1),
    validate: bool = True,
) -> tuple[subprocess.Popen, str, str]:
    """`omnimigrate fake serve` in its own process, enforcing `rate` per `period` with
    `limiter` (algorithm, burst); returns (process, URL, org token)."""
    port = free_port()
    tokens = work / f"fake-{port}.env"
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "omnimigrate", "--log-level", "error", "fake", "serve",
            "--port", str(port), "--documents", str(documents), "--rate-limit", str(rate),
            "--rate-period", str(period), "--tokens-file", str(tokens),
            "--limiter", limiter[0], "--burst", str(limiter[1]),
            "--validate" if validate else "--no-validate",
            *(["--state", str(state)] if state else []),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    line = proc.stdout.readline() if proc.stdout else ""
    if "fake Omni at" not in line:
        raise SystemExit(f"fake did not start: {line!r}")
    token = dict(ln.split("=", 1) for ln in tokens.read_text().split() if "=" in ln)
    return proc, f"http://127.0.0.1:{port}", token["OMNI_SOURCE_TOKEN"]
