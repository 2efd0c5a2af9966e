"""A `chatbot serve` process for the benchmarks: a free port, waiting for HTTP 200, stopping it."""

from __future__ import annotations

import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_http(proc: subprocess.Popen[bytes], url: str, exit_detail: Callable[[], str],
                  timeout: float = 300.0, poll: float = 0.1) -> None:
    """Return once `url` answers 200; SystemExit when `proc` dies first or `timeout` passes."""
    t0 = time.perf_counter()
    while True:
        if proc.poll() is not None:
            raise SystemExit(f"chatbot serve exited ({proc.returncode}): {exit_detail()}")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        if time.perf_counter() - t0 > timeout:
            raise SystemExit(f"chatbot serve did not answer within {timeout:.0f} s")
        time.sleep(poll)


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Ctrl-C, as a user would; killed when it has not exited after 20 s."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
