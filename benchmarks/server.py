"""Starting the real app (`python app.py`) on a free port: used by the tests and by the benchmarks.

It imports neither `tests` nor the other benchmarks, so that both can import it.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_http(url: str, process: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the app exited with code {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(f"{url} did not answer within {timeout} s")


def start_app(
    port: int, *app_args: str, log: Path | None = None, env: dict[str, str] | None = None
) -> tuple[subprocess.Popen, float]:
    """`python app.py --port PORT ...`, offline unless `env` says otherwise; returns it and its seconds to HTTP 200."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False", **(env or {})}
    output = open(log, "w") if log else subprocess.DEVNULL  # noqa: SIM115 (the child process keeps writing to it)
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "app.py", "--port", str(port), *app_args],
        cwd=ROOT,
        env=env,
        stdout=output,
        stderr=subprocess.STDOUT,
    )
    if log:
        output.close()
    try:
        wait_for_http(f"http://127.0.0.1:{port}/", process)
    except BaseException:
        stop_app(process)
        raise
    return process, time.perf_counter() - started


def stop_app(process: subprocess.Popen) -> None:
    process.terminate()
    process.wait(timeout=30)


@contextlib.contextmanager
def running_app(log: Path, *app_args: str, env: dict[str, str] | None = None) -> Iterator[str]:
    """The app on a free port while the block runs; yields its URL, then stops it and prints the end of its log."""
    port = free_port()
    try:
        process, _ = start_app(port, *app_args, log=log, env=env)
    except Exception:
        print(log.read_text()[-3000:])
        raise
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        stop_app(process)
        print(log.read_text()[-3000:])
