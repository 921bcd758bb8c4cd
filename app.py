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
import itertools
import math
import os
import random
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gradio as gr
import torch
from gradio import processing_utils
from PIL import Image

from models import cyclegan, dcgan, digits, face_vae, text
from models.imaging import ImageInputError, face_tensor, tensor_to_image
from models.loading import LoadedModel, ModelLoader, finish_loading, spec_from_env

try:  # Hugging Face ZeroGPU: a GPU is attached only while a function wrapped in spaces.GPU runs
    import spaces
except ImportError:
    spaces = None

ROOT = Path(__file__).resolve().parent
WEIGHTS = ROOT / "weights"
EXAMPLES = WEIGHTS / "examples"

# Each model: its name (also the env-var prefix and the weights/ folder), default Hub repo, and loader.
MODELS: dict[str, tuple[str, Callable[[Path], Any]]] = {
    "digits-ae": ("generative-models-suite/mnist-autoencoder", digits.Autoencoder.from_pretrained),
    "digits-vae": ("generative-models-suite/mnist-vae", digits.VAE.from_pretrained),
    "faces-dcgan": ("generative-models-suite/celeba-dcgan", dcgan.load_generator),
    "faces-vae": ("generative-models-suite/celeba-vae", face_vae.load_face_vae),
    "hair-cyclegan": ("generative-models-suite/celeba-hair-cyclegan", cyclegan.load_cyclegan),
    "text-gpt2": ("openai-community/gpt2", text.load_text_model),  # no shipped copy: Hub or HF cache only
    "text-gpt2-small": ("generative-models-suite/text-gpt2-small", text.load_text_model),
}
# transformers takes seconds to import, longer than the rest of the app's start: the page comes up first,
# and these load in a background thread; their requests wait for them (at most MODEL_WAIT_S).
LOAD_AFTER_START = ("text-gpt2", "text-gpt2-small")
MODEL_WAIT_S = 300

# On ZeroGPU (and any machine with CUDA) the models live on the GPU; inputs follow them there.
DEVICE = torch.device("cuda" if torch.cuda.is_available() else "cpu")

DIGIT_DISPLAY_SCALE = 8  # 28×28 → 224×224, nearest neighbour so pixels stay visible
MAX_SAMPLES = 64
MAX_STEPS = 16
MAX_SEED = 2**31 - 1
UPLOAD_LIMIT = "10mb"
QUEUE_LIMIT = 64  # requests waiting at most; more get "the queue is full" instead of an ever longer wait
CACHE_LIFETIME_S = 3600  # output files are deleted after an hour (checked every hour)
# Gradio keeps a copy of every component's settings per browser session (about 270 KiB for this page),
# by default for the last 10,000 sessions (2.7 GB). The last 256 users are far more than 2 vCPUs serve at once.
SESSIONS_KEPT = 256
KEPT_WALKS = 64  # animated walks kept on disk, by turns (Gradio copies each one as it answers)
CSS = "#digit-input img, #digit-ae img, #digit-vae img, #digit-samples img { image-rendering: pixelated; }"


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
        "--weights-dir", type=Path, default=WEIGHTS, help="folder holding the shipped <model-name>/ folders"
    )
    args = parser.parse_args(argv)
    overrides = dict(item.split("=", 1) for item in args.repo if "=" in item)
    unknown = set(overrides) - set(MODELS)
    if unknown or len(overrides) != len(args.repo):
        parser.error(f"--repo expects NAME=REPO_ID[@REVISION] with NAME in {', '.join(MODELS)}")
    args.repo_overrides = overrides
    return args


def load_models(
    offline: bool,
    overrides: dict[str, str],
    hub_timeout: float = 3.0,
    weights_dir: Path = WEIGHTS,
    later: tuple[str, ...] = (),
) -> dict[str, LoadedModel]:
    """Every model of MODELS, on DEVICE; those named in `later` are placeholders until `finish_loading`."""
    loader = ModelLoader(offline=offline or None, hub_timeout=hub_timeout)  # not --offline: HF_HUB_OFFLINE decides
    loaded = {}
    for name, (default_repo, load_fn) in MODELS.items():
        spec = spec_from_env(name, default_repo, weights_dir / name, overrides)
        load_on_device = functools.partial(_load_on_device, load_fn)
        loaded[name] = loader.load_later(spec, load_on_device) if name in later else loader.load(spec, load_on_device)
        print(f"[{name}] {loaded[name].message}")
    return loaded


def _load_on_device(load_fn: Callable[[Path], Any], folder: Path) -> Any:
    return load_fn(folder).to(DEVICE)


def wait_until_loaded(models: dict[str, LoadedModel]) -> None:
    """Wait for models still loading in the background (see LOAD_AFTER_START)."""
    for loaded in models.values():
        if not loaded.ready.wait(MODEL_WAIT_S):
            raise gr.Error(f"The model '{loaded.spec.name}' is still loading; try again in a minute.")


# ----------------------------------------------------------------------------------------------
# Input checking shared by every tab.


class ImageFile(gr.Image):
    """An image upload handed to the handler as a file path, unopened.

    gr.Image opens every upload with PIL before the handler runs, so a file that is not an image
    fails inside Gradio with a preprocessing dump. Here `models.imaging.open_image` checks the file
    and says what is wrong with it.
    """

    is_template = True  # rendered by the frontend as a plain gr.Image

    def preprocess(self, payload):
        if payload is None or (payload.url or "").startswith("data:"):
            return super().preprocess(payload)
        return str(payload.path)


def _save_pil_to_cache_atomically(img: Image.Image, cache_dir: str, name: str = "image", format: str = "webp") -> str:
    """gradio.processing_utils.save_pil_to_cache, writing a new file and renaming it into place.

    Gradio names an output image after its content and rewrote that file in place, so a client still
    downloading the same image for another request (two users on the default seed) got 0 bytes.
    """
    data = processing_utils.encode_pil_to_bytes(img, format)
    folder = Path(cache_dir) / processing_utils.hash_bytes(data)
    folder.mkdir(exist_ok=True, parents=True)
    path = (folder / f"{name}.{format}").resolve()
    with tempfile.NamedTemporaryFile(dir=folder, suffix=".part", delete=False) as partial:
        partial.write(data)
    os.replace(partial.name, path)
    return str(path)


processing_utils.save_pil_to_cache = _save_pil_to_cache_atomically


def on_gpu(handler: Callable) -> Callable:
    """`handler` wrapped in spaces.GPU where the `spaces` package is installed (a no-op off ZeroGPU); else itself."""
    return spaces.GPU(handler) if spaces is not None else handler


def user_errors(fn: Callable) -> Callable:
    """Show bad input as a readable message in the page (gr.Error), never as a stack trace."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except ImageInputError as error:
            raise gr.Error(str(error)) from error

    return wrapper


def clamped(value: Any, name: str, low: float, high: float) -> float:
    """Clamp a slider or API value into [low, high]; a non-number (or NaN) gets a clear message."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise gr.Error(f"{name} must be a number, got {value!r}.") from None
    if math.isnan(number):
        raise gr.Error(f"{name} must be a number, got NaN.")
    return min(max(number, low), high)


def whole_number(value: Any, name: str, low: int, high: int) -> int:
    return int(clamped(value, name, low, high))


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
    example_files = sorted(EXAMPLES.glob("digit_*.png"))
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
                upload = ImageFile(
                    label="Upload a digit", type="filepath", sources=["upload", "clipboard"], elem_id="digit-upload"
                )
                upload_button = gr.Button("Reconstruct upload", variant="primary", elem_id="reconstruct-upload")
                if example_files:
                    gr.Examples([[str(path)] for path in example_files], inputs=upload, label="Digits drawn by the VAE")
        with gr.Column():
            with gr.Row():
                prepared = gr.Image(label="Input, 28×28", format="png", elem_id="digit-input", buttons=["download"])
                ae_output = gr.Image(label="Autoencoder", format="png", elem_id="digit-ae", buttons=["download"])
                vae_output = gr.Image(label="VAE", format="png", elem_id="digit-vae", buttons=["download"])
            errors = gr.Markdown(elem_id="digit-errors")
    outputs = [prepared, ae_output, vae_output, errors]
    upload_button.click(on_gpu(tab.reconstruct_digit), upload, outputs, api_name="reconstruct_digit")
    draw_button.click(on_gpu(tab.reconstruct_drawing), sketch, outputs, api_visibility="private")

    gr.Markdown("### Sample new digits from the VAE")
    with gr.Row():
        count = gr.Slider(1, MAX_SAMPLES, value=16, step=1, label="Count")
        seed = gr.Number(value=0, step=1, label="Seed", minimum=0, maximum=MAX_SEED)
        sample_button = gr.Button("Sample", elem_id="sample-digits")
    samples = gr.Gallery(label="Samples", columns=8, height="auto", format="png", elem_id="digit-samples")
    sample_button.click(on_gpu(tab.sample_digits), [count, seed], samples, api_name="sample_digits")

    gr.Markdown("### Interpolate between two digits in the VAE's latent space")
    with gr.Row():
        start = ImageFile(label="From", type="filepath", sources=["upload", "clipboard"], height=160)
        end = ImageFile(label="To", type="filepath", sources=["upload", "clipboard"], height=160)
        with gr.Column():
            steps = gr.Slider(2, MAX_STEPS, value=8, step=1, label="Steps")
            interpolate_button = gr.Button("Interpolate", elem_id="interpolate-digits")
    if len(example_files) >= 2:
        gr.Examples([[str(example_files[0]), str(example_files[-1])]], inputs=[start, end])
    strip = gr.Gallery(label="Strip", columns=MAX_STEPS // 2, height="auto", format="png")
    interpolate_button.click(on_gpu(tab.interpolate_digits), [start, end, steps], strip, api_name="interpolate_digits")


# ----------------------------------------------------------------------------------------------
# Face generation tab: the DCGAN, with the face VAE's samples to compare


MAX_FACES = 64
MAX_WALK_STEPS = 32
FACE_MODELS = ("DCGAN", "VAE")


def face_images(images: torch.Tensor) -> list:
    """Native-size images (the page enlarges them; downloads stay at the model's resolution)."""
    return [tensor_to_image(image) for image in images]


def face_examples(image_input: gr.Image) -> None:
    """Example inputs for a face photo: faces drawn by the suite's DCGAN, when they are shipped."""
    files = sorted(EXAMPLES.glob("face_*.png"))
    if files:
        gr.Examples([[str(path)] for path in files], inputs=image_input, label="Faces drawn by the DCGAN")


class FacesTab:
    def __init__(self, generator: LoadedModel, vae: LoadedModel):
        self.generator, self.vae = generator, vae
        self.walks = Path(tempfile.mkdtemp(prefix="face-walks-"))
        self.walk_count = itertools.count()

    def next_walk_path(self) -> Path:
        return self.walks / f"walk-{next(self.walk_count) % KEPT_WALKS}.gif"

    @user_errors
    def generate_faces(self, count: float, seed: float, noise_scale: float, model: str = "DCGAN"):
        """Generate faces from random noise.

        Args:
            count: how many faces, 1 to 64.
            seed: random seed, 0 to 2**31 - 1; face i comes from seed + i.
            noise_scale: truncation, 0 to 1.5: below 1 faces are cleaner but more alike (DCGAN only).
            model: "DCGAN" or "VAE" (samples from the glasses tab's face VAE, to compare).
        Returns:
            The faces at the model's native size (64×64).
        """
        count = whole_number(count, "Count", 1, MAX_FACES)
        seed = whole_number(seed, "Seed", 0, MAX_SEED - MAX_FACES)
        noise_scale = clamped(noise_scale, "Noise scale", 0.0, 1.5)
        if model == "VAE":
            return face_images(face_vae.sample(require(self.vae).model, count, seed))
        return face_images(dcgan.generate(require(self.generator), count, seed, noise_scale))

    @user_errors
    def interpolate_faces(self, seed_a: float, seed_b: float, steps: float, noise_scale: float = 1.0):
        """Walk the DCGAN's noise space from one seed's face to another's (spherical interpolation).

        Args:
            seed_a: seed of the first face.
            seed_b: seed of the last face.
            steps: number of faces in the walk, 2 to 32.
            noise_scale: truncation, 0 to 1.5.
        Returns:
            The faces of the walk, and an animated GIF of it going there and back.
        """
        seed_a = whole_number(seed_a, "Seed A", 0, MAX_SEED)
        seed_b = whole_number(seed_b, "Seed B", 0, MAX_SEED)
        steps = whole_number(steps, "Steps", 2, MAX_WALK_STEPS)
        noise_scale = clamped(noise_scale, "Noise scale", 0.0, 1.5)
        frames = dcgan.interpolate_seeds(require(self.generator), seed_a, seed_b, steps, noise_scale)
        gif = dcgan.save_animated_gif(frames, self.next_walk_path(), frame_ms=120, scale=2)
        return face_images(frames), str(gif)


def build_faces_tab(tab: FacesTab) -> None:
    gr.Markdown(
        "Faces drawn from random noise by a DCGAN trained on CelebA. Each seed gives its own face; "
        "the noise scale trades variety for cleaner faces. Pick **VAE** to compare with the face VAE's samples."
    )
    with gr.Row():
        count = gr.Slider(1, MAX_FACES, value=16, step=1, label="Faces")
        seed = gr.Number(value=0, step=1, label="Seed", minimum=0, maximum=MAX_SEED)
        noise_scale = gr.Slider(0, 1.5, value=1.0, step=0.05, label="Noise scale (truncation)")
        model = gr.Radio(list(FACE_MODELS), value="DCGAN", label="Model")
    with gr.Row():
        new_seed = gr.Button("New seed")
        generate = gr.Button("Generate", variant="primary", elem_id="generate-faces")
    gallery = gr.Gallery(label="Faces", columns=8, height="auto", format="png", elem_id="face-gallery")
    generate.click(on_gpu(tab.generate_faces), [count, seed, noise_scale, model], gallery, api_name="generate_faces")
    new_seed.click(lambda: random.randint(0, MAX_SEED - MAX_FACES), None, seed, api_visibility="private").then(
        on_gpu(tab.generate_faces), [count, seed, noise_scale, model], gallery, api_visibility="private"
    )

    gr.Markdown("### Walk between two seeds")
    with gr.Row():
        seed_a = gr.Number(value=0, step=1, label="Seed A", minimum=0, maximum=MAX_SEED)
        seed_b = gr.Number(value=1, step=1, label="Seed B", minimum=0, maximum=MAX_SEED)
        steps = gr.Slider(2, MAX_WALK_STEPS, value=10, step=1, label="Steps")
        walk = gr.Button("Walk", elem_id="walk-faces")
    with gr.Row():
        strip = gr.Gallery(label="Walk", columns=10, height="auto", format="png", scale=3)
        animation = gr.Image(label="Animated", type="filepath", scale=1)
    walk.click(
        on_gpu(tab.interpolate_faces),
        [seed_a, seed_b, steps, noise_scale],
        [strip, animation],
        api_name="interpolate_faces",
    )


# ----------------------------------------------------------------------------------------------
# Glasses arithmetic tab: the face VAE's latent space

CUSTOM = "Custom weights (below)"
GROUP_LABELS = {
    "men_with_glasses": "Men with glasses",
    "men_without_glasses": "Men without glasses",
    "women_with_glasses": "Women with glasses",
    "women_without_glasses": "Women without glasses",
}


class GlassesTab:
    def __init__(self, vae: LoadedModel):
        self.vae = vae

    @user_errors
    def glasses_arithmetic(self, preset: str, *weights_and_faces):
        """Decode a weighted sum of the four group means (or of your own faces standing in for them).

        Args:
            preset: a preset's name, or "Custom weights (below)" to use the four weights.
            weights_and_faces: the weights of men with glasses, men without, women with glasses,
                women without (each -2 to 2), then optionally one face image per group, in the same
                order, to use instead of that group's mean.
        Returns:
            The result, and the decoded inputs that went into it (with their weights).
        """
        bundle = require(self.vae)
        weights = weights_and_faces[:4] if len(weights_and_faces) >= 4 else (0,) * 4
        faces = list(weights_and_faces[4:8]) + [None] * (4 - len(weights_and_faces[4:8]))
        if preset in face_vae.PRESETS:
            chosen = face_vae.PRESETS[preset]
        elif preset == CUSTOM:
            chosen = {
                group: clamped(weight, GROUP_LABELS[group], -2, 2)
                for group, weight in zip(face_vae.GROUPS, weights, strict=True)
            }
        else:
            raise gr.Error(f"Unknown preset {preset!r}; choose one of: {', '.join([*face_vae.PRESETS, CUSTOM])}.")
        vectors = dict(bundle.vectors)
        for group, face in zip(face_vae.GROUPS, faces, strict=True):
            if face is not None:
                stand_in = face_tensor(face, bundle.model.image_size)[None]
                vectors[group] = face_vae.encode_faces(bundle.model, stand_in)[0]
        if not any(chosen.values()):
            raise gr.Error("All weights are zero: give at least one group a weight.")
        result = face_vae.arithmetic(bundle.model, vectors, chosen)[0]
        used = [group for group, weight in chosen.items() if weight]
        inputs = face_vae.decode_latents(bundle.model, torch.stack([vectors[group] for group in used]))
        captions = [f"{chosen[group]:+g} × {GROUP_LABELS[group]}" for group in used]
        return tensor_to_image(result), list(zip(face_images(inputs), captions))

    @user_errors
    def edit_glasses(self, image: str | None, strength: float):
        """Add (strength > 0) or remove (strength < 0) glasses on a face, along the glasses direction.

        Args:
            image: a photo of a face; its central square is used, resized to 64×64.
            strength: -3 to 3; 1 adds the average difference between faces with and without glasses.
        Returns:
            The face as the model sees it (its reconstruction), and the edited face.
        """
        bundle = require(self.vae)
        strength = clamped(strength, "Strength", -3, 3)
        face = face_tensor(image, bundle.model.image_size)
        before = face_vae.reconstruct(bundle.model, face[None])[0]
        after = face_vae.edit_glasses(bundle.model, bundle.vectors, face, strength)[0]
        return tensor_to_image(before), tensor_to_image(after)

    @user_errors
    def interpolate_vae(self, image_a: str | None, image_b: str | None, steps: float):
        """Blend two faces in the face VAE's latent space.

        Args:
            image_a: the first face (a photo).
            image_b: the last face (a photo).
            steps: number of faces, 2 to 16, both ends included.
        Returns:
            The blended faces from the first to the last.
        """
        bundle = require(self.vae)
        steps = whole_number(steps, "Steps", 2, MAX_STEPS)
        size = bundle.model.image_size
        first, last = face_tensor(image_a, size), face_tensor(image_b, size)
        return face_images(face_vae.interpolate(bundle.model, first, last, steps))

    def random_pair(self):
        """Two faces sampled from the VAE, to interpolate between (upscaled so they look like photos)."""
        faces = face_vae.sample(require(self.vae).model, 2, random.randint(0, MAX_SEED))
        return [tensor_to_image(face).resize((256, 256), Image.Resampling.LANCZOS) for face in faces]

    @user_errors
    def sample_vae_faces(self, count: float, seed: float):
        """Random faces from the face VAE's prior.

        Args:
            count: how many faces, 1 to 64.
            seed: random seed, 0 to 2**31 - 1.
        Returns:
            The faces at 64×64.
        """
        count = whole_number(count, "Count", 1, MAX_FACES)
        seed = whole_number(seed, "Seed", 0, MAX_SEED)
        return face_images(face_vae.sample(require(self.vae).model, count, seed))


def build_glasses_tab(tab: GlassesTab) -> None:
    gr.Markdown(
        "A VAE trained on CelebA faces has a continuous latent space where directions mean something. "
        "Average the codes of four groups of faces, add and subtract them, and decode: "
        "*man with glasses − man without + woman without* gives a woman with glasses. "
        "Photos work best as portraits: the model sees the central square of the photo at 64×64, "
        "a face filling most of it, eyes about halfway up."
    )
    with gr.Row():
        preset = gr.Dropdown([*face_vae.PRESETS, CUSTOM], value=next(iter(face_vae.PRESETS)), label="Preset")
        run = gr.Button("Compute", variant="primary", elem_id="glasses-compute")
    with gr.Accordion("Custom weights, and your own faces standing in for a group", open=False):
        with gr.Row():
            weights = [gr.Slider(-2, 2, value=0, step=0.1, label=label) for label in GROUP_LABELS.values()]
        with gr.Row():
            stand_ins = [
                ImageFile(label=f"{label} (optional)", type="filepath", sources=["upload", "clipboard"], height=140)
                for label in GROUP_LABELS.values()
            ]
    with gr.Row():
        inputs_gallery = gr.Gallery(label="Inputs (decoded)", columns=3, height="auto", format="png", scale=3)
        result = gr.Image(label="Result", format="png", elem_id="glasses-result", scale=1)
    run.click(
        on_gpu(tab.glasses_arithmetic),
        [preset, *weights, *stand_ins],
        [result, inputs_gallery],
        api_name="glasses_arithmetic",
    )

    gr.Markdown("### Add or remove glasses on your own photo")
    with gr.Row():
        photo = ImageFile(label="Face photo", type="filepath", sources=["upload", "webcam", "clipboard"], height=220)
        with gr.Column():
            strength = gr.Slider(-3, 3, value=1.5, step=0.1, label="Strength (negative removes glasses)")
            edit = gr.Button("Edit", elem_id="glasses-edit")
        before = gr.Image(label="As the model sees it", format="png")
        after = gr.Image(label="Edited", format="png", elem_id="glasses-edited")
    face_examples(photo)
    edit.click(on_gpu(tab.edit_glasses), [photo, strength], [before, after], api_name="edit_glasses")

    gr.Markdown("### Interpolate between two faces")
    with gr.Row():
        face_a = ImageFile(
            label="First face", type="filepath", sources=["upload", "clipboard"], height=160, elem_id="glasses-face-a"
        )
        face_b = ImageFile(
            label="Last face", type="filepath", sources=["upload", "clipboard"], height=160, elem_id="glasses-face-b"
        )
        with gr.Column():
            blend_steps = gr.Slider(2, MAX_STEPS, value=8, step=1, label="Steps")
            random_pair = gr.Button("Two random faces", elem_id="glasses-random-pair")
            blend = gr.Button("Interpolate", elem_id="glasses-interpolate")
    blend_strip = gr.Gallery(label="Blend", columns=8, height="auto", format="png", elem_id="glasses-blend")
    blend.click(on_gpu(tab.interpolate_vae), [face_a, face_b, blend_steps], blend_strip, api_name="interpolate_vae")
    random_pair.click(on_gpu(tab.random_pair), None, [face_a, face_b], api_visibility="private")

    gr.Markdown("### Random faces from the VAE")
    with gr.Row():
        sample_count = gr.Slider(1, MAX_FACES, value=8, step=1, label="Faces")
        sample_seed = gr.Number(value=0, step=1, label="Seed", minimum=0, maximum=MAX_SEED)
        sample = gr.Button("Sample", elem_id="glasses-sample")
    samples = gr.Gallery(label="Samples", columns=8, height="auto", format="png")
    sample.click(on_gpu(tab.sample_vae_faces), [sample_count, sample_seed], samples, api_name="sample_vae_faces")


# ----------------------------------------------------------------------------------------------
# Hair colour tab: the CycleGAN

AUTOMATIC = "Automatic"
HAIR_DIRECTIONS = {"Black → blond": "black_to_blond", "Blond → black": "blond_to_black", AUTOMATIC: None}
HAIR_DISPLAY_SIZE = 256


class HairTab:
    def __init__(self, cyclegan_model: LoadedModel):
        self.cyclegan = cyclegan_model

    @user_errors
    def translate_hair(self, image: str | None, direction: str = AUTOMATIC):
        """Turn black hair blond or blond hair black, and translate the result back.

        Args:
            image: a photo of a face; its central square is used, resized to the model's size (64×64).
            direction: "Black → blond", "Blond → black" or "Automatic" (chosen from the hair's colour).
        Returns:
            The face as the model sees it, the translated face, the round trip (translated back),
            each enlarged to 256×256 for display, and a line saying which direction was used.
        """
        generators = require(self.cyclegan)
        if direction not in HAIR_DIRECTIONS:
            raise gr.Error(f"Unknown direction {direction!r}; choose one of: {', '.join(HAIR_DIRECTIONS)}.")
        face = face_tensor(image, generators.image_size)[None]
        chosen = HAIR_DIRECTIONS[direction]
        note = f"{direction}."
        if chosen is None:
            choice = cyclegan.choose_direction(face)[0]
            chosen, note = choice.direction, choice.message
        translated, back = cyclegan.round_trip(generators, face, chosen)
        return (*(self._show(image) for image in (face[0], translated[0], back[0])), note)

    @staticmethod
    def _show(image: torch.Tensor):
        return tensor_to_image(image).resize((HAIR_DISPLAY_SIZE, HAIR_DISPLAY_SIZE), Image.Resampling.LANCZOS)


def build_hair_tab(tab: HairTab) -> None:
    gr.Markdown(
        "A CycleGAN trained on CelebA faces with black and with blond hair, without pairs. "
        "Upload a portrait or use the webcam: the model sees the central square at 64×64, "
        "so a face filling most of the frame, with some hair above it, works best."
    )
    with gr.Row():
        with gr.Column():
            photo = ImageFile(
                label="Face",
                type="filepath",
                sources=["upload", "webcam", "clipboard"],
                height=260,
                elem_id="hair-input",
            )
            direction = gr.Radio(list(HAIR_DIRECTIONS), value=AUTOMATIC, label="Direction")
            run = gr.Button("Translate", variant="primary", elem_id="hair-translate")
        seen = gr.Image(label="As the model sees it", format="png")
        translated = gr.Image(label="Translated", format="png", elem_id="hair-translated")
        round_trip = gr.Image(label="Round trip (translated back)", format="png", elem_id="hair-round-trip")
    face_examples(photo)
    note = gr.Markdown(elem_id="hair-note")
    run.click(
        on_gpu(tab.translate_hair), [photo, direction], [seen, translated, round_trip, note], api_name="translate_hair"
    )


# ----------------------------------------------------------------------------------------------
# Text completion tab: GPT-2 from the Hub, or the small GPT-2 trained here

MAX_PROMPT_CHARACTERS = 20_000  # far beyond any context here; spares tokenizing a novel per request
EXAMPLE_PROMPTS = [
    "It was a bright cold day in April, and",
    "The old man looked out over the sea and said",
    "Elizabeth had never seen a place",
    "In the morning the rain had stopped and we",
]


class TextTab:
    def __init__(self, models: dict[str, LoadedModel]):
        self.text_models = models  # some may still be loading (LOAD_AFTER_START)

    @property
    def models(self) -> dict[str, LoadedModel]:
        """The text models that are loaded, by name ("text-gpt2-small", ...)."""
        return {name: loaded for name, loaded in self.text_models.items() if loaded.available}

    @staticmethod
    def label(loaded: LoadedModel) -> str:
        where = loaded.spec.shipped_label if loaded.origin == "shipped" else loaded.spec.hub_label
        return f"{loaded.model.name} ({where})"

    def choices(self) -> dict:
        """The model choice once every text model has loaded: the available ones, labelled, the first selected."""
        wait_until_loaded(self.text_models)
        available = self.models
        return gr.update(
            choices=[(self.label(loaded), name) for name, loaded in available.items()],
            value=next(iter(available), None),
        )

    def complete_text(
        self,
        prompt: str,
        max_new_tokens: float = 100,
        temperature: float = 0.8,
        top_k: float = 50,
        top_p: float = 0.95,
        repetition_penalty: float = 1.1,
        seed: float | None = None,
        model: str | None = None,
    ):
        """Continue a prompt with GPT-2, streaming the text as it is generated.

        Args:
            prompt: the beginning of a text; a prompt longer than the model's context keeps its end.
            max_new_tokens: at most this many new tokens, 1 to 512.
            temperature: 0 (always the likeliest token) to 2 (wilder).
            top_k: sample among the k likeliest tokens only; 0 turns it off.
            top_p: sample among the likeliest tokens that make up this much probability, 0.01 to 1.
            repetition_penalty: 1 (none) to 2; discourages repeating tokens.
            seed: random seed for reproducible text; empty picks one (reported in the status).
            model: which model answers, "text-gpt2" (OpenAI's) or "text-gpt2-small" (trained here);
                empty takes the first available.
        Yields:
            The prompt and its continuation so far, and a status line (tokens per second, seed, notices).
        """
        wait_until_loaded(self.text_models)
        models = self.models
        if not models:
            raise gr.Error("No text model is available: see where the weights came from at the top of the page.")
        loaded = models.get(model) if model else next(iter(models.values()))
        if loaded is None:
            raise gr.Error(f"The model {model!r} is not available; choose one of: {', '.join(models)}.")
        try:
            prompt = text.clean_prompt(prompt or "")  # first, so that control characters do not count
            notice = ""
            if len(prompt) > MAX_PROMPT_CHARACTERS:
                prompt = prompt[-MAX_PROMPT_CHARACTERS:]
                notice = f"The prompt was cut to its last {MAX_PROMPT_CHARACTERS:,} characters. "
            settings = text.GenerationSettings(
                max_new_tokens=max_new_tokens,
                temperature=temperature,
                top_k=top_k,
                top_p=top_p,
                repetition_penalty=repetition_penalty,
                seed=None if seed is None or seed == "" else seed,
            ).clamped()
            for part in text.stream_completion(loaded.model, prompt, settings):
                yield part.full_text, notice + part.status
        except ValueError as error:  # empty prompt, a setting that is not a number
            raise gr.Error(str(error)) from error


def build_text_tab(tab: TextTab) -> gr.Radio:
    gr.Markdown(
        "Type the beginning of a text and watch GPT-2 continue it, token by token. "
        "Without the Hub, the small GPT-2 trained here on public-domain novels answers."
    )
    with gr.Row():
        with gr.Column(scale=3):
            prompt = gr.Textbox(label="Prompt", lines=4, placeholder="It was a dark and stormy night;")
            gr.Examples([[example] for example in EXAMPLE_PROMPTS], inputs=prompt)
            output = gr.Textbox(label="Completion", lines=12, elem_id="text-output", buttons=["copy"])
            status = gr.Markdown(elem_id="text-status")
        with gr.Column(scale=1):
            # The values are the model names, known before the models load (API calls are checked against
            # them); the labels say which model each is once it has loaded (TextTab.choices).
            model = gr.Radio(list(tab.text_models), value=None, label="Model")
            max_new_tokens = gr.Slider(1, text.MAX_NEW_TOKENS, value=100, step=1, label="Max new tokens")
            temperature = gr.Slider(0, text.MAX_TEMPERATURE, value=0.8, step=0.05, label="Temperature")
            top_k = gr.Slider(0, 200, value=50, step=1, label="Top-k (0: off)")
            top_p = gr.Slider(0.01, 1, value=0.95, step=0.01, label="Top-p")
            repetition_penalty = gr.Slider(
                1, text.MAX_REPETITION_PENALTY, value=1.1, step=0.05, label="Repetition penalty"
            )
            seed = gr.Number(value=None, step=1, label="Seed (empty: random)", minimum=0, maximum=MAX_SEED)
            with gr.Row():
                run = gr.Button("Generate", variant="primary", elem_id="text-generate")
                stop = gr.Button("Stop", variant="stop", elem_id="text-stop")
    inputs = [prompt, max_new_tokens, temperature, top_k, top_p, repetition_penalty, seed, model]
    # Generation has its own queue slot, so image tabs never wait behind a long completion.
    generation = gr.on(
        [run.click, prompt.submit],
        on_gpu(tab.complete_text),
        inputs,
        [output, status],
        api_name="complete_text",
        concurrency_id="text",
        concurrency_limit=1,
    )
    stop.click(None, cancels=[generation])
    return model


# ----------------------------------------------------------------------------------------------
# About tab: every model's card and where its weights came from


def weights_origin(loaded: LoadedModel) -> str:
    """Where a model's weights came from, in a few words (Markdown)."""
    if loaded.origin == "shipped":
        return f"shipped with the app, `{loaded.spec.shipped_label}`"
    if loaded.available:
        cache = " (from the local cache)" if loaded.origin == "hub-cache" else ""
        return f"Hub repo `{loaded.spec.repo_id}` at commit `{loaded.revision}`{cache}"
    return "unavailable"


def models_overview(models: dict[str, LoadedModel]) -> str:
    """A Markdown table: each model, its source, and what the loader said."""
    rows = [f"| {name} | {weights_origin(loaded)} | {loaded.message} |" for name, loaded in models.items()]
    return "\n".join(["| model | weights | details |", "| --- | --- | --- |", *rows])


class AboutTab:
    def __init__(self, models: dict[str, LoadedModel]):
        self.models = models

    def model_card(self, name: str) -> str:
        """A model's card (architecture, data and its terms, training command, metrics) and its source.

        Args:
            name: a model's name, as in /model_status (e.g. "digits-vae").
        Returns:
            Markdown: where the weights came from, then the card read from the loaded folder.
        """
        loaded = self.models.get(name)
        if loaded is None:
            raise gr.Error(f"Unknown model {name!r}; choose one of: {', '.join(self.models)}.")
        header = f"**Weights:** {weights_origin(loaded)}.  \n**Loader:** {loaded.message}"
        if not loaded.available:
            return f"{header}\n\nThis model is not loaded, so there is no card to show."
        return f"{header}\n\n{loaded.card or 'This model folder has no model card (README.md).'}"


def build_about_tab(tab: AboutTab) -> gr.Markdown:
    gr.Markdown(
        "Every model of the suite, where its weights came from, and its model card, read from the folder "
        f"it was loaded from. PyTorch {torch.__version__} and Gradio {gr.__version__}, "
        f"{torch.get_num_threads()} CPU threads."
    )
    overview = gr.Markdown(models_overview(tab.models), elem_id="about-overview")
    names = list(tab.models)
    choice = gr.Dropdown(names, value=names[0], label="Model card", elem_id="about-choice")
    card = gr.Markdown(tab.model_card(names[0]), elem_id="about-card")
    choice.change(tab.model_card, choice, card, api_name="model_card")
    return overview


def show_sources(models: dict[str, LoadedModel], *names: str, elem_id: str | None = None) -> gr.Markdown:
    """The line at the top of a tab saying where each of its models' weights came from."""
    return gr.Markdown(model_status({name: models[name] for name in names}), elem_id=elem_id)


def build_app(models: dict[str, LoadedModel]) -> gr.Blocks:
    with gr.Blocks(title="Generative models suite", delete_cache=(CACHE_LIFETIME_S, CACHE_LIFETIME_S)) as demo:
        gr.Markdown(
            "# Generative models suite\n"
            "Classic generative models in PyTorch, really trained, running on your CPU. "
            "Each tab says where its weights came from."
        )
        with gr.Accordion("Where the weights came from", open=False):
            status = gr.Markdown(model_status(models), elem_id="model-status")
        with gr.Tab("Digits: autoencoder and VAE", id="digits"):
            show_sources(models, "digits-ae", "digits-vae", elem_id="digits-source")
            build_digits_tab(DigitsTab(models["digits-ae"], models["digits-vae"]))
        with gr.Tab("Face generation: DCGAN", id="faces"):
            show_sources(models, "faces-dcgan", "faces-vae", elem_id="faces-source")
            build_faces_tab(FacesTab(models["faces-dcgan"], models["faces-vae"]))
        with gr.Tab("Glasses arithmetic: face VAE", id="glasses"):
            show_sources(models, "faces-vae", elem_id="glasses-source")
            build_glasses_tab(GlassesTab(models["faces-vae"]))
        with gr.Tab("Hair colour: CycleGAN", id="hair"):
            show_sources(models, "hair-cyclegan", elem_id="hair-source")
            build_hair_tab(HairTab(models["hair-cyclegan"]))
        with gr.Tab("Text completion: GPT-2", id="text"):
            text_models = {name: models[name] for name in ("text-gpt2", "text-gpt2-small")}
            text_source = show_sources(models, *text_models, elem_id="text-source")
            text_tab = TextTab(text_models)
            text_choice = build_text_tab(text_tab)
        with gr.Tab("About", id="about"):
            overview = build_about_tab(AboutTab(models))

        # Models loading in the background (LOAD_AFTER_START): the page shows them once they are ready.
        def when_loaded():
            wait_until_loaded(models)
            return model_status(text_models), text_tab.choices(), model_status(models), models_overview(models)

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
    models = load_models(args.offline, args.repo_overrides, args.hub_timeout, args.weights_dir, LOAD_AFTER_START)
    demo = build_app(models)
    demo.queue(default_concurrency_limit=2, max_size=QUEUE_LIMIT)
    demo.launch(
        server_name=args.host,
        server_port=args.port,
        share=args.share,
        max_file_size=UPLOAD_LIMIT,
        state_session_capacity=SESSIONS_KEPT,
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
    finish_loading(models.values(), on_ready=lambda loaded: print(f"[{loaded.spec.name}] {loaded.message}"))
    demo.block_thread()


if __name__ == "__main__":
    main()
