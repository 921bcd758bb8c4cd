"""The generative models suite: one Gradio Blocks app, one tab per model family.

    python app.py                      # http://127.0.0.1:7860, weights from the Hub or weights/
    python app.py --offline            # never touch the network: shipped weights (or the HF cache)
    python app.py --share              # also a public *.gradio.live link, where the internet allows
    python app.py --repo digits-vae=you/mnist-vae@v1   # your own Hub repo, pinned revision

This file parses the command line, loads the models (`models.registry`), assembles the tabs (`tabs/`, one
module each) and launches the server. It holds no model maths and no tab's layout.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import threading
import time
from pathlib import Path

import gradio as gr

from models.loading import LoadedModel, finish_loading
from models.registry import BETA_VAES, EXAMPLES, LOAD_AFTER_START, MODELS, TEXT_MODELS, WEIGHTS, load_models
from models.text import PRECISIONS, UPDATE_INTERVAL_S
from tabs import about, common, digits, faces, glasses, hair, text
from tabs.common import model_status, show_sources, wait_until_loaded, write_output_images_atomically

UPLOAD_LIMIT = "10mb"
QUEUE_LIMIT = 64  # requests waiting at most; more get "the queue is full" instead of an ever longer wait
CACHE_LIFETIME_S = 3600  # output files are deleted after an hour (checked every hour)
# Gradio keeps a copy of every component's settings per browser session (about 270 KiB for this page),
# by default for the last 10,000 sessions (2.7 GB). The last 256 users are far more than 2 vCPUs serve at once.
SESSIONS_KEPT = 256
# Threads that run handlers. Each thread that runs a model keeps memory of its own (its stack, per-thread
# buffers of the math libraries): with Gradio's default of 40, 16 clients grew the server by 28 threads and
# 100 MB in a minute. The queue lets 2 image requests and 1 text generation run at once; the rest is room
# for the quick ones (model status, Stop, the page's first call).
MAX_THREADS = 8
CSS = common.CSS + digits.CSS + faces.CSS + glasses.CSS


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", 7860)))
    parser.add_argument("--share", action="store_true", help="create a public share link (needs the internet)")
    parser.add_argument("--offline", action="store_true", help="do not contact the Hub (same as HF_HUB_OFFLINE=1)")
    parser.add_argument(
        "--repo",
        action="append",
        default=[],
        metavar="NAME=REPO_ID[@REVISION]",
        help=f"Hub repo of a model; names: {', '.join(MODELS)}. "
        "Env vars work too: DIGITS_VAE_REPO, DIGITS_VAE_REVISION.",
    )
    parser.add_argument(
        "--hub-timeout", type=float, default=3.0, help="seconds to wait for the Hub before falling back"
    )
    parser.add_argument(
        "--text-precision",
        choices=PRECISIONS,
        default="auto",
        help="how the text models compute: auto is bfloat16 for GPT-2 (124M) on a CPU with native bfloat16, "
        "else float32",
    )
    parser.add_argument(
        "--stream-interval",
        type=float,
        default=UPDATE_INTERVAL_S,
        metavar="SECONDS",
        help="streamed text is sent to the page at most this often (0: after every token)",
    )
    parser.add_argument(
        "--weights-dir", type=Path, default=WEIGHTS, help="folder holding the shipped <model-name>/ folders"
    )
    args = parser.parse_args(argv)
    overrides = dict(item.split("=", 1) for item in args.repo if "=" in item)
    unknown = set(overrides) - set(MODELS)
    if unknown or len(overrides) != len(args.repo):
        parser.error(f"--repo expects NAME=REPO_ID[@REVISION] with NAME in {', '.join(MODELS)}")
    args.repo_overrides = overrides
    return args


def limit_memory_growth(trim_every_s: float = 10.0) -> None:
    """Keep the server's memory from creeping up under load (glibc only; elsewhere a no-op).

    glibc gives each thread that allocates its own heap ("arena"), up to 8 per core, and keeps memory freed
    there for reuse instead of returning it. Gradio serves requests from dozens of threads, each handling
    images and tensors of many sizes: under 16 clients the server grew 17 % in a minute. Two arenas
    (M_ARENA_MAX) and handing free memory back every few seconds (malloc_trim) about halve that
    (README, "Load test").
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-8, 2)  # M_ARENA_MAX
        libc.mallopt(-3, 256 * 1024)  # M_MMAP_THRESHOLD: fixed, so that large blocks always go back on free
    except (OSError, AttributeError):
        return

    def trim_forever() -> None:
        while True:
            time.sleep(trim_every_s)
            libc.malloc_trim(0)

    threading.Thread(target=trim_forever, name="malloc-trim", daemon=True).start()


def build_app(models: dict[str, LoadedModel], stream_interval_s: float = UPDATE_INTERVAL_S) -> gr.Blocks:
    with gr.Blocks(title="Generative models suite", delete_cache=(CACHE_LIFETIME_S, CACHE_LIFETIME_S)) as demo:
        gr.Markdown(
            "# Generative models suite\n"
            "Classic generative models in PyTorch, really trained, running on your CPU. "
            "Each tab says where its weights came from."
        )
        with gr.Accordion("Where the weights came from", open=False):
            status = gr.Markdown(model_status(models), elem_id="model-status")
        with gr.Tab("Digits: autoencoder and VAE", id="digits"):
            show_sources(
                models, "digits-ae", "digits-vae", "digits-vae-beta0.5", "digits-vae-beta4", elem_id="digits-source"
            )
            beta_vaes = {beta: models[name] for beta, name in BETA_VAES.items()}
            digits.build(digits.DigitsTab(models["digits-ae"], models["digits-vae"], beta_vaes))
        with gr.Tab("Face generation: DCGAN", id="faces"):
            show_sources(models, "faces-dcgan", "faces-vae", "faces-cgan", elem_id="faces-source")
            faces.build(faces.FacesTab(models["faces-dcgan"], models["faces-vae"], models["faces-cgan"]))
        with gr.Tab("Glasses arithmetic: face VAE", id="glasses"):
            show_sources(models, "faces-vae", elem_id="glasses-source")
            glasses.build(glasses.GlassesTab(models["faces-vae"], models["face-attributes"]))
        with gr.Tab("Hair colour: CycleGAN", id="hair"):
            show_sources(models, "hair-cyclegan", elem_id="hair-source")
            hair.build(hair.HairTab(models["hair-cyclegan"]))
        with gr.Tab("Text completion: GPT-2 and LSTM", id="text"):
            text_models = {name: models[name] for name in TEXT_MODELS}
            text_source = show_sources(models, *text_models, elem_id="text-source")
            text_tab = text.TextTab(text_models, stream_interval_s)
            text_choice = text.build(text_tab)
        with gr.Tab("About", id="about"):
            overview = about.build(about.AboutTab(models))

        # Models loading in the background (LOAD_AFTER_START): the page shows them once they are ready.
        def when_loaded():
            wait_until_loaded(models)
            return model_status(text_models), text_tab.choices(), model_status(models), about.models_overview(models)

        demo.load(
            when_loaded,
            None,
            [text_source, text_choice, status, overview],
            api_visibility="private",
            concurrency_limit=None,  # it only waits: it must not take a slot from the image tabs
        )

        # A trivial endpoint: the benchmark's baseline, and a health check for deployments (which answers
        # once every model has loaded or failed, so that it reports where all the weights came from).
        def current_status() -> str:
            wait_until_loaded(models)
            return model_status(models)

        status_button = gr.Button(visible=False)
        status_button.click(current_status, None, status, api_name="model_status", concurrency_limit=None)
    return demo


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    limit_memory_growth()
    write_output_images_atomically()
    models = load_models(
        args.offline, args.repo_overrides, args.hub_timeout, args.weights_dir, LOAD_AFTER_START, args.text_precision
    )
    demo = build_app(models, args.stream_interval)
    demo.queue(default_concurrency_limit=2, max_size=QUEUE_LIMIT)
    demo.launch(
        server_name=args.host,
        server_port=args.port,
        share=args.share,
        max_file_size=UPLOAD_LIMIT,
        state_session_capacity=SESSIONS_KEPT,
        max_threads=MAX_THREADS,
        show_error=False,  # only gr.Error messages reach the page; any other error stays in the log
        css=CSS,
        allowed_paths=[str(EXAMPLES)],
        prevent_thread_lock=True,
    )
    if args.share and not demo.share_url:
        print(
            "No public share link: the share tunnel could not start here (it needs the internet). "
            f"The app keeps serving locally at {demo.local_url}"
        )
    finish_loading(models.values(), on_ready=lambda loaded: print(f"[{loaded.spec.name}] {loaded.message}"))
    demo.block_thread()


if __name__ == "__main__":
    main()
