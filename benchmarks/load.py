"""Load test: python -m benchmarks.load [--clients 16] [--seconds 60] [--weights-dir weights] [--json out.json]

Starts `python app.py` offline on a free loopback port, calls every endpoint once to warm up, then
runs concurrent gradio_client clients (threads, each with its own Client) in two phases:

1. image only, a short phase (a quarter of --seconds, at least 10 s): the image clients alone,
   taking turns over every available image endpoint (the calls of `benchmarks.run.endpoint_cases`);
2. the mix, for --seconds: the same image clients, plus a few clients streaming /complete_text
   (32 new tokens) back to back, when a text model is available.

It prints requests/s; per endpoint the calls, errors (target: 0), and the median (p50) and p95
latency of both phases, so that the image endpoints with text generation running next to them
read against the image-only figures; and the server's resident memory, its child processes
included, after the warm-up, after the image-only phase and at the end, with the growth from the
first to the last (target: at most 5 %, level in the second phase).
Latency is end to end, as a script sees it: upload of the inputs, queueing, the model, and the
download of every output file.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import tempfile
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import psutil
from gradio_client import Client, handle_file

from benchmarks.run import api_name_of, endpoint_cases, make_input_files, percentiles
from benchmarks.server import ROOT, free_port, start_app, stop_app

MAX_CLIENTS = 64
MAX_SECONDS = 600
REQUEST_TIMEOUT_S = 120  # one call slower than this counts as an error
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
TEXT_API = "/complete_text"
# prompt, max_new_tokens, temperature, top_k, top_p, repetition_penalty, seed, model (None: the first available)
TEXT_ARGS = ("It was a bright cold day in April, and", 32, 0.8, 50, 0.95, 1.1, 0, None)


@dataclass(frozen=True)
class Case:
    """One call in the mix: its row in the report, the endpoint it calls, and the arguments.

    An argument that is a Path is uploaded as a file.
    """

    name: str
    api_name: str
    args: tuple

    @property
    def is_text(self) -> bool:
        return self.api_name == TEXT_API

    def call(self, client: Client) -> None:
        inputs = [handle_file(str(value)) if isinstance(value, Path) else value for value in self.args]
        client.submit(*inputs, api_name=self.api_name).result(timeout=REQUEST_TIMEOUT_S)


@dataclass(frozen=True)
class Call:
    """One finished request: its case, how long it took, and its error (None when it succeeded)."""

    case: Case
    seconds: float
    error: str | None


def summarize(calls: list[Call]) -> dict[str, float | int | str | None]:
    """Count, errors, and the median and p95 latency (ms) of the successful calls."""
    times = [call.seconds for call in calls if call.error is None]
    errors = [call.error for call in calls if call.error is not None]
    latency = percentiles(times) if times else {"median_ms": None, "p95_ms": None}
    return {"calls": len(calls), "errors": len(errors), **latency, "first_error": errors[0] if errors else None}


@dataclass
class LoadResult:
    """What one run_load phase did: its cases, its clients, its length, and every call."""

    cases: list[Case]
    clients: int
    text_clients: int
    wall_seconds: float
    calls: list[Call]

    @property
    def errors(self) -> int:
        return sum(call.error is not None for call in self.calls)

    @property
    def requests_per_second(self) -> float:
        return len(self.calls) / self.wall_seconds

    def by_case(self) -> dict[str, dict]:
        """Each case's figures, in the order of the mix; a case never called shows 0 calls."""
        return {case.name: summarize([call for call in self.calls if call.case == case]) for case in self.cases}

    def image_calls(self) -> dict:
        """All the image endpoints' calls together."""
        return summarize([call for call in self.calls if not call.case.is_text])

    def as_dict(self) -> dict:
        return {
            "clients": self.clients,
            "text_clients": self.text_clients,
            "wall_seconds": self.wall_seconds,
            "requests": len(self.calls),
            "requests_per_s": self.requests_per_second,
            "errors": self.errors,
            "image_endpoints": self.image_calls(),
            "endpoints": self.by_case(),
        }


class Rotation:
    """Hands out cases in turn to the clients sharing it, so that every endpoint gets its share of the load."""

    def __init__(self, cases: list[Case]):
        self.cases = cases
        self.handed_out = 0
        self.lock = threading.Lock()

    def next(self) -> tuple[Case, bool]:
        """The next case, and whether it belongs to the first round (which is always run in full)."""
        with self.lock:
            case = self.cases[self.handed_out % len(self.cases)]
            self.handed_out += 1
            return case, self.handed_out <= len(self.cases)


def check_limits(url: str, clients: int, seconds: float) -> None:
    if urllib.parse.urlsplit(url).hostname not in LOOPBACK:
        raise ValueError(f"the load test only runs against a server on this machine (loopback), not {url}")
    if not 1 <= clients <= MAX_CLIENTS:
        raise ValueError(f"clients must be 1 to {MAX_CLIENTS}, got {clients}")
    if not 0 < seconds <= MAX_SECONDS:
        raise ValueError(f"seconds must be more than 0 and at most {MAX_SECONDS}, got {seconds}")


def text_client_count(clients: int, cases: list[Case]) -> int:
    """How many of the clients stream text: one in eight, at least one, when the mix has text and room for it."""
    if not any(case.is_text for case in cases) or clients < 2:
        return 0
    return min(max(1, clients // 8), clients - 1)


def run_load(url: str, cases: list[Case], clients: int, seconds: float, text_clients: int = 0) -> LoadResult:
    """Run `clients` concurrent gradio_client clients against `url` for `seconds`.

    `text_clients` of them take turns over the text cases (/complete_text), the others over the image
    cases; each client calls back to back, with its own Client, until the time is up. The first round
    of each rotation is completed even after the deadline (up to REQUEST_TIMEOUT_S later), so that every
    case is called at least once however slow the server is. A call in progress at the deadline is
    waited for (at most REQUEST_TIMEOUT_S).
    """
    check_limits(url, clients, seconds)
    text_cases = [case for case in cases if case.is_text]
    image_cases = [case for case in cases if not case.is_text]
    image_clients = clients - text_clients
    if bool(text_cases) != (text_clients > 0) or bool(image_cases) != (image_clients > 0):
        raise ValueError(
            f"{len(image_cases)} image and {len(text_cases)} text cases cannot be shared out "
            f"as {image_clients} image and {text_clients} text clients"
        )
    # gradio_client reports telemetry unless this variable says no, whatever its `analytics_enabled`.
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    text_rotation, image_rotation = Rotation(text_cases), Rotation(image_cases)  # one per group of clients
    rotations = [text_rotation] * text_clients + [image_rotation] * image_clients
    calls: list[Call] = []
    clock = {}

    def start_clock() -> None:  # runs once, when every client is connected
        clock["start"] = time.monotonic()
        clock["deadline"] = clock["start"] + seconds

    ready = threading.Barrier(clients, action=start_clock)

    def client_loop(rotation: Rotation) -> None:
        try:
            client = Client(url, verbose=False, analytics_enabled=False)
        except Exception:
            ready.abort()  # the others stop waiting for this one
            raise
        try:
            ready.wait(timeout=REQUEST_TIMEOUT_S)
            while True:
                case, first_round = rotation.next()
                if time.monotonic() >= clock["deadline"] + (REQUEST_TIMEOUT_S if first_round else 0):
                    return
                started = time.perf_counter()
                error = None
                try:
                    case.call(client)
                except Exception as exception:  # an error of the app, the network or the timeout
                    error = f"{type(exception).__name__}: {exception}"[:300]
                calls.append(Call(case, time.perf_counter() - started, error))  # list.append is thread-safe
        finally:
            client.close()

    with ThreadPoolExecutor(max_workers=clients) as pool:
        futures = [pool.submit(client_loop, rotation) for rotation in rotations]
        for future in futures:
            future.result()  # a client that could not connect raises here
    wall_seconds = time.monotonic() - clock["start"]
    return LoadResult(cases, clients, text_clients, wall_seconds, calls)


def mix_cases(files: dict[str, str], weights_dir: Path) -> list[Case]:
    """Every available image endpoint's call from `benchmarks.run.endpoint_cases`, and /complete_text
    when a text model is available; the trivial /model_status is left out."""
    from models.registry import load_models

    models = load_models(offline=True, overrides={}, weights_dir=weights_dir)
    uploads = set(files.values())
    cases = [
        Case(name, api_name_of(name), tuple(Path(value) if value in uploads else value for value in args))
        for name, (args, _) in endpoint_cases(files, weights_dir, models).items()
        if name != "/model_status"
    ]
    if any(loaded.available for name, loaded in models.items() if name.startswith("text-")):
        cases.append(Case(TEXT_API, TEXT_API, TEXT_ARGS))
    return cases


def warm_up(url: str, cases: list[Case]) -> None:
    """Call every case once, one after the other; any error stops the load test here."""
    client = Client(url, verbose=False, analytics_enabled=False)
    try:
        for case in cases:
            try:
                case.call(client)
            except Exception as exception:
                raise RuntimeError(f"warm-up: {case.name} failed: {exception}") from exception
    finally:
        client.close()


def server_answers(url: str) -> bool:
    """Whether the trivial /model_status endpoint still answers."""
    try:
        client = Client(url, verbose=False, analytics_enabled=False)
        try:
            return bool(client.submit(api_name="/model_status").result(timeout=REQUEST_TIMEOUT_S))
        finally:
            client.close()
    except Exception:
        return False


def resident_mb(pid: int) -> float:
    """Resident memory of a process and all its children, in MiB."""
    process = psutil.Process(pid)
    total = 0
    for member in [process, *process.children(recursive=True)]:
        with contextlib.suppress(psutil.NoSuchProcess):
            total += member.memory_info().rss
    return total / 2**20


def load_test(clients: int, seconds: float, weights_dir: Path) -> dict:
    """The whole load test against a fresh `python app.py`; returns the results as a dict."""
    check_limits("http://127.0.0.1/", clients, seconds)
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    cases = mix_cases(make_input_files(Path(tempfile.mkdtemp(prefix="load-"))), weights_dir)
    image_cases = [case for case in cases if not case.is_text]
    text_clients = text_client_count(clients, cases)
    if not text_clients:
        cases = image_cases  # no text model, or a single client
    image_only_seconds = min(seconds, max(10.0, seconds / 4))

    port = free_port()
    server, cold_start = start_app(port, "--weights-dir", str(weights_dir))
    url = f"http://127.0.0.1:{port}/"
    try:
        warm_up(url, cases)
        memory_start = resident_mb(server.pid)
        image_only = run_load(url, image_cases, clients - text_clients, image_only_seconds)
        memory_between = resident_mb(server.pid)
        mixed = run_load(url, cases, clients, seconds, text_clients)
        memory_end = resident_mb(server.pid)
        answers = server_answers(url)
    finally:
        stop_app(server)
    return {
        "cpu_count": os.cpu_count(),
        "cold_start_s": cold_start,
        "image_only": image_only.as_dict(),
        "mixed": mixed.as_dict(),
        "server_rss_mb_start": memory_start,
        "server_rss_mb_after_image_only": memory_between,
        "server_rss_mb_end": memory_end,
        "server_rss_growth_pct": 100 * (memory_end - memory_start) / memory_start,
        "errors": image_only.errors + mixed.errors,
        "server_answers_afterwards": answers,
    }


def print_report(results: dict) -> None:
    image_only, mixed = results["image_only"], results["mixed"]
    text_clients, image_clients = mixed["text_clients"], mixed["clients"] - mixed["text_clients"]
    print(
        f"\nLoad test: {mixed['clients']} clients ({image_clients} on the image endpoints, {text_clients} streaming "
        f"{TEXT_API}), {results['cpu_count']} CPUs; latency end to end, files downloaded"
    )
    phases = (
        f"image only, {image_only['wall_seconds']:.0f} s",
        f"mix with text generation, {mixed['wall_seconds']:.0f} s",
    )
    print(f"{'':<34}{phases[0]:>36}   {phases[1]:>36}")
    cells = f"{'calls':>7} {'errors':>7} {'p50 ms':>10} {'p95 ms':>10}"
    print(f"{'endpoint':<34}{cells}   {cells}")

    def cell(figures: dict | None) -> str:
        if figures is None:
            return f"{'-':>7} {'-':>7} {'-':>10} {'-':>10}"
        p50, p95 = (figures[key] for key in ("median_ms", "p95_ms"))
        latency = f"{p50:>10.0f} {p95:>10.0f}" if p50 is not None else f"{'-':>10} {'-':>10}"
        return f"{figures['calls']:>7} {figures['errors']:>7} {latency}"

    for name in dict.fromkeys([*image_only["endpoints"], *mixed["endpoints"]]):
        print(f"{name:<34}{cell(image_only['endpoints'].get(name))}   {cell(mixed['endpoints'].get(name))}")
    print(f"{'all image endpoints':<34}{cell(image_only['image_endpoints'])}   {cell(mixed['image_endpoints'])}")
    print(
        f"{'requests/s':<34}{image_only['requests_per_s']:>7.2f}{'':>29}   {mixed['requests_per_s']:>7.2f}"
        f"  (all endpoints, text included)"
    )
    before, during = image_only["image_endpoints"], mixed["image_endpoints"]
    if text_clients and before["median_ms"] and during["median_ms"]:
        p50_ratio, p95_ratio = (during[key] / before[key] for key in ("median_ms", "p95_ms"))
        print(
            f"Image endpoints with text generation running next to them: p50 ×{p50_ratio:.2f}, p95 ×{p95_ratio:.2f} "
            f"of the image-only phase (the same {image_clients} image clients)"
        )
    print(
        f"Server resident memory (with children): {results['server_rss_mb_start']:.0f} MB after the warm-up, "
        f"{results['server_rss_mb_after_image_only']:.0f} MB after the image-only phase, "
        f"{results['server_rss_mb_end']:.0f} MB at the end: {results['server_rss_growth_pct']:+.1f} % (target <= 5 %)"
    )
    answers = "yes" if results["server_answers_afterwards"] else "NO"
    print(f"Errors: {results['errors']} (target 0). The server still answers /model_status afterwards: {answers}")
    for phase in (image_only, mixed):
        for name, figures in phase["endpoints"].items():
            if figures["first_error"]:
                print(f"  first error of {name}: {figures['first_error']}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=16, help=f"concurrent clients, 1 to {MAX_CLIENTS}")
    parser.add_argument("--seconds", type=float, default=60, help=f"length of the mixed phase, at most {MAX_SECONDS}")
    parser.add_argument("--weights-dir", type=Path, default=ROOT / "weights", help="the model folders to serve")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    args = parser.parse_args(argv)
    if not 1 <= args.clients <= MAX_CLIENTS:
        parser.error(f"--clients must be 1 to {MAX_CLIENTS}")
    if not (0 < args.seconds <= MAX_SECONDS and math.isfinite(args.seconds)):
        parser.error(f"--seconds must be more than 0 and at most {MAX_SECONDS}")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    results = load_test(args.clients, args.seconds, args.weights_dir)
    print_report(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
