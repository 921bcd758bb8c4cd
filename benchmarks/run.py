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
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import psutil
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import text as text_benchmark  # noqa: E402
from benchmarks.server import ROOT, free_port, start_app, stop_app  # noqa: E402
from training.faces import cartoon_face  # noqa: E402
from training.mnist import draw_digit  # noqa: E402


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


def make_input_files(folder: Path) -> dict[str, str]:
    """The benchmark's input images, written to `folder`: two drawn digits and two cartoon faces."""
    files = {}
    for kind in ("one", "zero"):
        files[kind] = str(folder / f"{kind}.png")
        draw_digit(kind).save(files[kind])
    for name, size in (("face", 400), ("face256", 256)):
        files[name] = str(folder / f"{name}.png")
        cartoon_face(size, {"Blond_Hair": 0, "Eyeglasses": 0}, np.random.default_rng(0)).save(files[name])
    return files


def api_name_of(case_name: str) -> str:
    """The endpoint a case calls: "/translate_hair (256×256 input)" calls /translate_hair."""
    return case_name.split(" ")[0]


def endpoint_cases(
    files: dict[str, str], weights_dir: Path, models: dict | None = None
) -> dict[str, tuple[tuple, Callable]]:
    """case name -> (arguments for gradio_client, in-process call of the same handler).

    Endpoints whose model is not available (no shipped weights, no Hub) are left out. `models`:
    the result of `models.registry.load_models` when the caller has loaded them already.
    """
    from models import face_vae
    from models.registry import BETA_VAES, load_models
    from tabs.common import model_status
    from tabs.digits import DigitsTab
    from tabs.faces import FacesTab
    from tabs.glasses import GlassesTab
    from tabs.hair import HairTab

    if models is None:
        models = load_models(offline=True, overrides={}, weights_dir=weights_dir)
    available = {name for name, loaded in models.items() if loaded.available}
    digits_tab = DigitsTab(models["digits-ae"], models["digits-vae"], {b: models[n] for b, n in BETA_VAES.items()})
    faces_tab = FacesTab(models["faces-dcgan"], models["faces-vae"], models["faces-cgan"])
    glasses_tab = GlassesTab(models["faces-vae"], models["face-attributes"])
    hair_tab = HairTab(models["hair-cyclegan"])
    preset = next(iter(face_vae.PRESETS))
    no_faces = (None, None, None, None)
    cases = {
        "/model_status": (set(), (), lambda: model_status(models)),
        "/reconstruct_digit": (
            {"digits-ae", "digits-vae"},
            (files["zero"],),
            lambda: digits_tab.reconstruct_digit(files["zero"]),
        ),
        "/sample_digits": ({"digits-vae"}, (16, 0), lambda: digits_tab.sample_digits(16, 0)),
        "/interpolate_digits": (
            {"digits-vae"},
            (files["one"], files["zero"], 8),
            lambda: digits_tab.interpolate_digits(files["one"], files["zero"], 8),
        ),
        "/beta_vae": ({"digits-vae-beta4"}, (files["zero"], "4"), lambda: digits_tab.beta_vae(files["zero"], "4")),
        "/compare_betas": (
            set(BETA_VAES.values()),
            (files["zero"], 0),
            lambda: digits_tab.compare_betas(files["zero"], 0),
        ),
        "/generate_faces": ({"faces-dcgan"}, (16, 0, 1.0, "DCGAN"), lambda: faces_tab.generate_faces(16, 0, 1.0)),
        "/interpolate_faces": ({"faces-dcgan"}, (0, 1, 10, 1.0), lambda: faces_tab.interpolate_faces(0, 1, 10, 1.0)),
        "/conditional_faces": (
            {"faces-cgan"},
            (16, 0, "with glasses"),
            lambda: faces_tab.conditional_faces(16, 0, "with glasses"),
        ),
        "/slide_glasses": ({"faces-cgan"}, (0, 0.5), lambda: faces_tab.slide_glasses(0, 0.5)),
        "/glasses_arithmetic": (
            {"faces-vae"},
            (preset, 0, 0, 0, 0, *no_faces),
            lambda: glasses_tab.glasses_arithmetic(preset, 0, 0, 0, 0, *no_faces),
        ),
        "/edit_glasses": ({"faces-vae"}, (files["face"], 1.5), lambda: glasses_tab.edit_glasses(files["face"], 1.5)),
        "/interpolate_vae": (
            {"faces-vae"},
            (files["face"], files["face"], 8),
            lambda: glasses_tab.interpolate_vae(files["face"], files["face"], 8),
        ),
        "/sample_vae_faces": ({"faces-vae"}, (16, 0), lambda: glasses_tab.sample_vae_faces(16, 0)),
        "/translate_hair": (
            {"hair-cyclegan"},
            (files["face"], "Automatic"),
            lambda: hair_tab.translate_hair(files["face"], "Automatic"),
        ),
        "/translate_hair (256×256 input)": (
            {"hair-cyclegan"},
            (files["face256"], "Automatic"),
            lambda: hair_tab.translate_hair(files["face256"], "Automatic"),
        ),
    }
    return {name: (args, call) for name, (needs, args, call) in cases.items() if needs <= available}


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


def cyclegan_generator_latency(weights_dir: Path, calls: int) -> dict[int, dict[str, float]]:
    """In-process latency of one shipped hair generator on one face, at the shipped size and at 256×256.

    The app resizes every upload to the size the model was trained at (64 here); the 256 figure is
    the cost of the same network on a 256×256 face, as a model trained at 256 on a GPU would run.
    """
    from models import cyclegan

    folder = weights_dir / "hair-cyclegan"
    if not (folder / "config.json").exists():
        return {}
    generators = cyclegan.load_cyclegan(folder)
    sizes = sorted({generators.image_size, 256})
    faces = {size: torch.rand(1, 3, size, size) for size in sizes}
    return {
        size: time_calls(lambda f=faces[size]: cyclegan.translate(generators, f, "black_to_blond"), calls)
        for size in sizes
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=50, help="timed calls per endpoint (at least 50 for the report)")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    parser.add_argument("--weights-dir", type=Path, default=ROOT / "weights", help="the model folders to serve")
    args = parser.parse_args()
    from gradio_client import Client, handle_file

    files = make_input_files(Path(tempfile.mkdtemp()))

    results: dict[str, object] = {"torch_threads": torch.get_num_threads(), "cpu_count": os.cpu_count()}
    port = free_port()
    started = time.perf_counter()
    server, cold_start = start_app(port, "--weights-dir", str(args.weights_dir))
    results["cold_start_s"] = cold_start
    try:
        memory = psutil.Process(server.pid)
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        client.predict(api_name="/model_status")  # it answers once the models loading in the background are in
        results["all_models_loaded_s"] = time.perf_counter() - started
        results["server_rss_mb_idle"] = memory.memory_info().rss / 2**20
        url_client = Client(f"http://127.0.0.1:{port}/", verbose=False, download_files=False)
        cases = endpoint_cases(files, args.weights_dir)
        latency = {}
        for api_name, (client_args, in_process) in cases.items():
            wrapped = [handle_file(value) if value in files.values() else value for value in client_args]
            api = api_name_of(api_name)
            latency[api_name] = {
                "in_process": time_calls(in_process, args.calls),
                "end_to_end": time_calls(lambda w=wrapped, a=api: client.predict(*w, api_name=a), args.calls),
                "end_to_end_urls": time_calls(lambda w=wrapped, a=api: url_client.predict(*w, api_name=a), args.calls),
            }
        results["latency"] = latency
        results["cyclegan_generator"] = cyclegan_generator_latency(args.weights_dir, args.calls)
        results["text_generation"] = text_benchmark.measure(client, args.weights_dir, tokens=128, runs=5)
        results["server_rss_mb_after"] = memory.memory_info().rss / 2**20
    finally:
        stop_app(server)
    results["autoencoder_training_images_per_s_batch32"] = autoencoder_training_throughput()
    results["text_precisions"] = text_benchmark.compare_precisions(tokens=128, runs=3)

    print(f"cold start to first HTTP 200: {results['cold_start_s']:.2f} s")
    print(f"every model loaded (text models load after the page is up): {results['all_models_loaded_s']:.2f} s")
    print(
        f"server resident memory: {results['server_rss_mb_idle']:.0f} MB idle, "
        f"{results['server_rss_mb_after']:.0f} MB after the benchmark"
    )
    print(
        f"{'endpoint':<32} {'in-process':>17} {'end to end, files':>19} {'end to end, URLs':>19} {'URLs-trivial':>13}"
    )
    print(f"{'':<32} {'median / p95 ms':>17} {'median / p95 ms':>19} {'median / p95 ms':>19} {'median ms':>13}")
    trivial = latency["/model_status"]["end_to_end_urls"]["median_ms"]
    for api_name, figures in latency.items():
        row = [figures[key] for key in ("in_process", "end_to_end", "end_to_end_urls")]
        cells = " ".join(f"{cell['median_ms']:>10.1f} / {cell['p95_ms']:>6.1f}" for cell in row)
        print(f"{api_name:<32} {cells} {row[2]['median_ms'] - trivial:>+13.1f}")
    for size, figures in results["cyclegan_generator"].items():
        print(
            f"hair generator alone, one {size}×{size} face: "
            f"{figures['median_ms']:.1f} / {figures['p95_ms']:.1f} ms (median / p95, in-process)"
        )
    if results["text_generation"]:
        text_benchmark.print_table(results["text_generation"], tokens=128, runs=5)
    text_benchmark.print_precisions(results["text_precisions"], tokens=128)
    print(
        f"autoencoder training, batch 32: {results['autoencoder_training_images_per_s_batch32']:,.0f} images/s "
        f"({results['torch_threads']} torch threads, {results['cpu_count']} CPUs)"
    )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
