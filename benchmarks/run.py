"""Benchmarks of the suite: python -m benchmarks.run [--calls 50] [--json results.json]

Prints, for each endpoint: in-process latency (the tab's handler called directly) and end-to-end
latency through gradio_client against a real `python app.py` server (median and p95), next to
the trivial /model_status endpoint measured in the same run; cold start to the first HTTP 200;
the server's resident memory; and training throughput. Runs offline, on the shipped weights.

End to end is measured twice: with gradio_client downloading every output file (what a script
gets by default), and with `download_files=False` (the server's complete answer, file URLs
included). The difference is the client's own per-file download, the same for any app.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import psutil
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.conftest import draw_digit, free_port, wait_for_http  # noqa: E402


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "median_ms": 1000 * statistics.median(ordered),
        "p95_ms": 1000 * ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))],
    }


def time_calls(call: Callable[[], object], count: int, warmup: int = 3) -> dict[str, float]:
    for _ in range(warmup):
        call()
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)
    return percentiles(samples)


def endpoint_cases(files: dict[str, str]) -> dict[str, tuple[tuple, Callable]]:
    """api name -> (arguments for gradio_client, in-process call of the same handler)."""
    import app

    models = app.load_models(offline=True, overrides={})
    digits_tab = app.DigitsTab(models["digits-ae"], models["digits-vae"])
    return {
        "/model_status": ((), lambda: app.model_status(models)),
        "/reconstruct_digit": ((files["zero"],), lambda: digits_tab.reconstruct_digit(files["zero"])),
        "/sample_digits": ((16, 0), lambda: digits_tab.sample_digits(16, 0)),
        "/interpolate_digits": (
            (files["one"], files["zero"], 8),
            lambda: digits_tab.interpolate_digits(files["one"], files["zero"], 8),
        ),
    }


def start_server(port: int) -> tuple[subprocess.Popen, float]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False"}
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "app.py", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for_http(f"http://127.0.0.1:{port}/", process)
    return process, time.perf_counter() - started


def autoencoder_training_throughput(batch_size: int = 32, steps: int = 200) -> float:
    """Images per second of Autoencoder training steps (forward, backward, Adam) at this batch size."""
    from models.digits import Autoencoder, autoencoder_loss

    model = Autoencoder()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    images = torch.rand(batch_size, 1, 28, 28)
    for step in range(steps + 10):
        if step == 10:
            started = time.perf_counter()
        loss = autoencoder_loss(model(images), images)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return steps * batch_size / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=50, help="timed calls per endpoint (at least 50 for the report)")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    args = parser.parse_args()
    from gradio_client import Client, handle_file

    workdir = Path(tempfile.mkdtemp())
    files = {}
    for kind in ("one", "zero"):
        files[kind] = str(workdir / f"{kind}.png")
        draw_digit(kind).save(files[kind])

    results: dict[str, object] = {"torch_threads": torch.get_num_threads(), "cpu_count": os.cpu_count()}
    port = free_port()
    server, cold_start = start_server(port)
    results["cold_start_s"] = cold_start
    try:
        memory = psutil.Process(server.pid)
        results["server_rss_mb_idle"] = memory.memory_info().rss / 2**20
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        url_client = Client(f"http://127.0.0.1:{port}/", verbose=False, download_files=False)
        cases = endpoint_cases(files)
        latency = {}
        for api_name, (client_args, in_process) in cases.items():
            wrapped = [
                handle_file(value) if isinstance(value, str) and value.endswith(".png") else value
                for value in client_args
            ]
            latency[api_name] = {
                "in_process": time_calls(in_process, args.calls),
                "end_to_end": time_calls(lambda w=wrapped, a=api_name: client.predict(*w, api_name=a), args.calls),
                "end_to_end_urls": time_calls(
                    lambda w=wrapped, a=api_name: url_client.predict(*w, api_name=a), args.calls
                ),
            }
        results["latency"] = latency
        results["server_rss_mb_after"] = memory.memory_info().rss / 2**20
    finally:
        server.terminate()
        server.wait(timeout=30)
    results["autoencoder_training_images_per_s_batch32"] = autoencoder_training_throughput()

    print(f"cold start to first HTTP 200: {results['cold_start_s']:.2f} s")
    print(
        f"server resident memory: {results['server_rss_mb_idle']:.0f} MB idle, "
        f"{results['server_rss_mb_after']:.0f} MB after the benchmark"
    )
    print(
        f"{'endpoint':<22} {'in-process':>17} {'end to end, files':>19} {'end to end, URLs':>19} {'URLs-trivial':>13}"
    )
    print(f"{'':<22} {'median / p95 ms':>17} {'median / p95 ms':>19} {'median / p95 ms':>19} {'median ms':>13}")
    trivial = latency["/model_status"]["end_to_end_urls"]["median_ms"]
    for api_name, figures in latency.items():
        row = [figures[key] for key in ("in_process", "end_to_end", "end_to_end_urls")]
        cells = " ".join(f"{cell['median_ms']:>10.1f} / {cell['p95_ms']:>6.1f}" for cell in row)
        print(f"{api_name:<22} {cells} {row[2]['median_ms'] - trivial:>+13.1f}")
    print(
        f"autoencoder training, batch 32: {results['autoencoder_training_images_per_s_batch32']:,.0f} images/s "
        f"({results['torch_threads']} torch threads, {results['cpu_count']} CPUs)"
    )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
