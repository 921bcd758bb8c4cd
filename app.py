"""The generative models suite: one Gradio Blocks app, one tab per model family.

    python app.py                      # http://127.0.0.1:7860, weights from the Hub or weights/
    python app.py --offline            # never touch the network: shipped weights (or the HF cache)
    python app.py --share              # also a public *.gradio.live link, where the internet allows
    python app.py --repo digits-vae=you/mnist-vae@v1   # your own Hub repo, pinned revision

This file only wires the UI to the inference functions in `models/`; it holds no model maths.
"""

from __future__ import annotations

import argparse
import functools
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gradio as gr
import torch

from models import digits
from models.imaging import ImageInputError, tensor_to_image
from models.loading import LoadedModel, ModelLoader, spec_from_env

ROOT = Path(__file__).resolve().parent
WEIGHTS = ROOT / "weights"
EXAMPLES = WEIGHTS / "examples"

# Each model: its name (also the env-var prefix and the weights/ folder), default Hub repo, and loader.
MODELS: dict[str, tuple[str, Callable[[Path], Any]]] = {
    "digits-ae": ("generative-models-suite/mnist-autoencoder", digits.Autoencoder.from_pretrained),
    "digits-vae": ("generative-models-suite/mnist-vae", digits.VAE.from_pretrained),
}

DIGIT_DISPLAY_SCALE = 8  # 28×28 → 224×224, nearest neighbour so pixels stay visible
MAX_SAMPLES = 64
MAX_STEPS = 16
MAX_SEED = 2**31 - 1
UPLOAD_LIMIT = "10mb"


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
    args = parser.parse_args(argv)
    overrides = dict(item.split("=", 1) for item in args.repo if "=" in item)
    unknown = set(overrides) - set(MODELS)
    if unknown or len(overrides) != len(args.repo):
        parser.error(f"--repo expects NAME=REPO_ID[@REVISION] with NAME in {', '.join(MODELS)}")
    args.repo_overrides = overrides
    return args


def load_models(offline: bool, overrides: dict[str, str], hub_timeout: float = 3.0) -> dict[str, LoadedModel]:
    loader = ModelLoader(offline=offline, hub_timeout=hub_timeout)
    loaded = {}
    for name, (default_repo, load_fn) in MODELS.items():
        spec = spec_from_env(name, default_repo, WEIGHTS / name, overrides)
        loaded[name] = loader.load(spec, load_fn)
        print(f"[{name}] {loaded[name].message}")
    return loaded


# ----------------------------------------------------------------------------------------------
# Input checking shared by every tab.


def user_errors(fn: Callable) -> Callable:
    """Show bad input as a readable message in the page (gr.Error), never as a stack trace."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except ImageInputError as error:
            raise gr.Error(str(error)) from error

    return wrapper


def whole_number(value: Any, name: str, low: int, high: int) -> int:
    """Clamp a slider or API value into [low, high]; a non-number gets a clear message."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise gr.Error(f"{name} must be a number, got {value!r}.") from None
    if math.isnan(number):
        raise gr.Error(f"{name} must be a number, got NaN.")
    return int(min(max(number, low), high))


def require(model: LoadedModel) -> Any:
    if not model.available:
        raise gr.Error(f"The model '{model.spec.name}' is unavailable: {model.message}")
    return model.model


# ----------------------------------------------------------------------------------------------
# Digits tab


class DigitsTab:
    """Handlers of the digits tab; each public method is one API endpoint."""

    def __init__(self, autoencoder: LoadedModel, vae: LoadedModel):
        self.autoencoder, self.vae = autoencoder, vae

    @user_errors
    def reconstruct_digit(self, image: str | None):
        """Reconstruct one digit with the autoencoder and with the VAE.

        Args:
            image: an image of one digit (dark on light or light on dark, any size).
        Returns:
            The MNIST-style 28×28 input, the autoencoder's and the VAE's reconstructions
            (upscaled 8× with nearest neighbours), and the mean squared error of each.
        """
        digit = digits.preprocess_digit(image)
        ae_image = digits.reconstruct(require(self.autoencoder), digit[None])[0]
        vae_image = digits.reconstruct(require(self.vae), digit[None])[0]
        errors = (
            f"Mean squared error per pixel — autoencoder: **{digits.mean_squared_error(ae_image, digit):.4f}**, "
            f"VAE: **{digits.mean_squared_error(vae_image, digit):.4f}**"
        )
        return self._show(digit), self._show(ae_image), self._show(vae_image), errors

    def reconstruct_drawing(self, sketch: dict | None):
        if sketch is None or sketch.get("composite") is None:
            raise gr.Error("The drawing is empty: draw a digit first.")
        return self.reconstruct_digit(sketch["composite"])

    @user_errors
    def sample_digits(self, count: float, seed: float):
        """Draw new digits from the VAE's prior.

        Args:
            count: how many digits, 1 to 64.
            seed: random seed, 0 to 2**31 - 1; the same seed gives the same digits.
        Returns:
            The digits, upscaled 4×.
        """
        count = whole_number(count, "Count", 1, MAX_SAMPLES)
        seed = whole_number(seed, "Seed", 0, MAX_SEED)
        return [self._show(image, scale=4) for image in digits.sample(require(self.vae), count, seed)]

    @user_errors
    def interpolate_digits(self, start: str | None, end: str | None, steps: float):
        """Walk the VAE's latent space in a straight line from one digit to another.

        Args:
            start: image of the first digit.
            end: image of the last digit.
            steps: number of images in the strip, 2 to 16, both ends included.
        Returns:
            The decoded digits from start to end, upscaled 4×.
        """
        steps = whole_number(steps, "Steps", 2, MAX_STEPS)
        first, last = digits.preprocess_digit(start), digits.preprocess_digit(end)
        images = digits.interpolate(require(self.vae), first, last, steps)
        return [self._show(image, scale=4) for image in images]

    @staticmethod
    def _show(image: torch.Tensor, scale: int = DIGIT_DISPLAY_SCALE):
        return tensor_to_image(image, scale=scale)


def model_status(models: dict[str, LoadedModel]) -> str:
    """Where each model's weights came from, one line each (Markdown)."""
    return "\n".join(f"- **{name}**: {loaded.message}" for name, loaded in models.items())


def build_digits_tab(tab: DigitsTab) -> None:
    gr.Markdown(
        "Draw a digit (pick the brush ✎ on the left of the canvas first) or upload a picture of one. "
        "It is prepared the way MNIST was (cropped to the ink, fitted into 20×20, centred by centre of mass "
        "in 28×28), then encoded to a 20-number latent and decoded by both models."
    )
    with gr.Row():
        with gr.Column():
            with gr.Tab("Draw"):
                sketch = gr.Sketchpad(
                    label="Draw a digit",
                    type="numpy",
                    image_mode="RGBA",
                    canvas_size=(280, 280),
                    brush=gr.Brush(default_size=14, colors=["#000000"], color_mode="fixed"),
                    layers=False,
                    transforms=(),
                    format="png",
                    elem_id="digit-sketch",
                )
                draw_button = gr.Button("Reconstruct drawing", variant="primary", elem_id="reconstruct-drawing")
            with gr.Tab("Upload"):
                upload = gr.Image(
                    label="Upload a digit", type="filepath", sources=["upload", "clipboard"], elem_id="digit-upload"
                )
                upload_button = gr.Button("Reconstruct upload", variant="primary", elem_id="reconstruct-upload")
                example_files = sorted(EXAMPLES.glob("digit_*.png"))
                if example_files:
                    gr.Examples([[str(path)] for path in example_files], inputs=upload, label="Digits drawn by the VAE")
        with gr.Column():
            with gr.Row():
                prepared = gr.Image(label="Input, 28×28", format="png", elem_id="digit-input", buttons=["download"])
                ae_output = gr.Image(label="Autoencoder", format="png", elem_id="digit-ae", buttons=["download"])
                vae_output = gr.Image(label="VAE", format="png", elem_id="digit-vae", buttons=["download"])
            errors = gr.Markdown(elem_id="digit-errors")
    outputs = [prepared, ae_output, vae_output, errors]
    upload_button.click(tab.reconstruct_digit, upload, outputs, api_name="reconstruct_digit")
    draw_button.click(tab.reconstruct_drawing, sketch, outputs, api_visibility="private")

    gr.Markdown("### Sample new digits from the VAE")
    with gr.Row():
        count = gr.Slider(1, MAX_SAMPLES, value=16, step=1, label="Count")
        seed = gr.Number(value=0, precision=0, label="Seed", minimum=0, maximum=MAX_SEED)
        sample_button = gr.Button("Sample", elem_id="sample-digits")
    samples = gr.Gallery(label="Samples", columns=8, height="auto", format="png", elem_id="digit-samples")
    sample_button.click(tab.sample_digits, [count, seed], samples, api_name="sample_digits")

    gr.Markdown("### Interpolate between two digits in the VAE's latent space")
    with gr.Row():
        start = gr.Image(label="From", type="filepath", sources=["upload", "clipboard"], height=160)
        end = gr.Image(label="To", type="filepath", sources=["upload", "clipboard"], height=160)
        with gr.Column():
            steps = gr.Slider(2, MAX_STEPS, value=8, step=1, label="Steps")
            interpolate_button = gr.Button("Interpolate", elem_id="interpolate-digits")
    example_files = sorted(EXAMPLES.glob("digit_*.png"))
    if len(example_files) >= 2:
        gr.Examples([[str(example_files[0]), str(example_files[-1])]], inputs=[start, end])
    strip = gr.Gallery(label="Strip", columns=MAX_STEPS // 2, height="auto", format="png")
    interpolate_button.click(tab.interpolate_digits, [start, end, steps], strip, api_name="interpolate_digits")


def build_app(models: dict[str, LoadedModel]) -> gr.Blocks:
    with gr.Blocks(title="Generative models suite") as demo:
        gr.Markdown(
            "# Generative models suite\n"
            "Classic generative models in PyTorch, really trained, running on your CPU. "
            "Each tab says where its weights came from."
        )
        with gr.Accordion("Where the weights came from", open=False):
            status = gr.Markdown(model_status(models), elem_id="model-status")
        with gr.Tab("Digits: autoencoder and VAE", id="digits"):
            gr.Markdown(
                model_status({name: models[name] for name in ("digits-ae", "digits-vae")}),
                elem_id="digits-source",
            )
            build_digits_tab(DigitsTab(models["digits-ae"], models["digits-vae"]))

        # A trivial endpoint: the benchmark's baseline, and a health check for deployments.
        status_button = gr.Button(visible=False)
        status_button.click(lambda: model_status(models), None, status, api_name="model_status")
    return demo


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    models = load_models(args.offline, args.repo_overrides, args.hub_timeout)
    demo = build_app(models)
    demo.queue(default_concurrency_limit=2)
    demo.launch(
        server_name=args.host,
        server_port=args.port,
        share=args.share,
        max_file_size=UPLOAD_LIMIT,
        show_error=True,
        css=CSS,
        allowed_paths=[str(EXAMPLES)],
        prevent_thread_lock=True,
    )
    if args.share and not demo.share_url:
        print(
            "No public share link: the share tunnel could not start here (it needs the internet). "
            f"The app keeps serving locally at {demo.local_url}"
        )
    demo.block_thread()


CSS = """
#digit-input img, #digit-ae img, #digit-vae img, #digit-samples img { image-rendering: pixelated; }
"""

if __name__ == "__main__":
    main()
