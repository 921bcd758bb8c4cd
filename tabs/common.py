"""What every tab shares: checking what a user or an API client sent, and showing models' answers.

Model handlers run with `preprocess=False` (`EVENT`): Gradio hands them what the client sent, after its own
check that a file reference points into its upload folder: a file reference ({"path": ...}) for an image,
whatever JSON value for a slider or a box. The checks here turn those into paths, numbers and choices, and
anything else into a `gr.Error` that names the field. (Gradio's own preprocessing would answer None for a
slider with Python's TypeError.) The app launches with `show_error=False`, so the text of any error that is
not a `gr.Error` stays in the server's log.
"""

from __future__ import annotations

import functools
import inspect
import math
import os
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import gradio as gr
import torch
from gradio import processing_utils
from PIL import Image

from models import text
from models.imaging import ImageInputError, tensor_to_image
from models.loading import LoadedModel
from models.registry import EXAMPLES

try:  # Hugging Face ZeroGPU: a GPU is attached only while a function wrapped in spaces.GPU runs
    import spaces
except ImportError:
    spaces = None

MAX_SEED = text.MAX_SEED  # one bound for every seed on the page
MAX_STEPS = 16  # images in an interpolation strip
MAX_FACES = 64
MODEL_WAIT_S = 300  # how long a request waits for a model still loading in the background
EVENT = {"preprocess": False}  # the options of every model handler's event (see the module's docstring)


# Torch runs each op with a team of OpenMP threads per calling thread, and a team keeps its memory while its
# caller lives. Gradio runs handlers on a pool of up to 40 threads, so under 16 clients the server grew by 25
# threads and about 90 MB in a minute. Model handlers run on these two threads instead (the queue runs two
# image requests at once); text generation has its own thread per request (models.text).
MODEL_THREADS = ThreadPoolExecutor(max_workers=2, thread_name_prefix="model")


def model_handler(handler: Callable) -> Callable:
    """`handler`, run where the models are: inside spaces.GPU on ZeroGPU (a GPU is attached only while a
    function wrapped in it runs), else on MODEL_THREADS. Generators (streaming handlers) run as they are."""
    if spaces is not None:
        return spaces.GPU(handler)
    if inspect.isgeneratorfunction(handler):
        return handler

    @functools.wraps(handler)
    def on_a_model_thread(*args, **kwargs):
        return MODEL_THREADS.submit(handler, *args, **kwargs).result()

    return on_a_model_thread


def user_errors(fn: Callable) -> Callable:
    """Show bad input as a readable message in the page (gr.Error), never as a stack trace."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except ImageInputError as error:
            raise gr.Error(str(error)) from error

    return wrapper


def number(value: Any, name: str, low: float, high: float) -> float:
    """A slider's or number box's value, as the client sent it, if it is a number in [low, high].

    Anything else gets a message naming the field; out of range, in the words Gradio's own components use.
    """
    if value is None or value == "":
        raise gr.Error(f"{name} is empty: enter a number from {low} to {high}.")
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise gr.Error(f"{name} must be a number, got {_shown(value)}.")
    try:
        result = float(value)
    except (ValueError, OverflowError):
        raise gr.Error(f"{name} must be a number, got {_shown(value)}.") from None
    if math.isnan(result):
        raise gr.Error(f"{name} must be a number, got NaN.")
    if result > high:
        raise gr.Error(f"{name}: Value {value} is greater than maximum value {high}.")
    if result < low:
        raise gr.Error(f"{name}: Value {value} is less than minimum value {low}.")
    return result


def whole_number(value: Any, name: str, low: int, high: int) -> int:
    return int(number(value, name, low, high))


def choice(value: Any, name: str, options: list[str] | tuple[str, ...] | dict) -> str:
    """`value` if it is one of `options`; else a message listing them."""
    if isinstance(value, str) and value in options:
        return value
    raise gr.Error(f"Unknown {name.lower()} {_shown(value)}: it is not in the list of choices: {', '.join(options)}.")


def image_file(value: Any, name: str, required: bool = True) -> str | None:
    """The path of an image input: Gradio's file reference ({"path": ...}) or, in-process, a path.

    A missing image is None, or a message naming it if `required`.
    """
    if isinstance(value, dict):
        value = value.get("path")
    if isinstance(value, Path):
        value = str(value)
    if value is None or value == "":
        if required:
            raise gr.Error(f"No image was given for “{name}”: upload one (or pick an example) first.")
        return None
    if not isinstance(value, str):
        raise gr.Error(f"{name} must be an image file, got {_shown(value)}.")
    return value


def _shown(value: Any) -> str:
    """A short, safe rendering of a bad value for a message."""
    shown = repr(value)
    return shown if len(shown) <= 40 else f"a {type(value).__name__}"


def require(model: LoadedModel) -> Any:
    if not model.available:
        raise gr.Error(f"The model '{model.spec.name}' is unavailable: {model.message}")
    return model.model


def wait_until_loaded(models: dict[str, LoadedModel]) -> None:
    """Wait for models still loading in the background (models.registry.LOAD_AFTER_START)."""
    for loaded in models.values():
        if not loaded.ready.wait(MODEL_WAIT_S):
            raise gr.Error(f"The model '{loaded.spec.name}' is still loading; try again in a minute.")


def model_status(models: dict[str, LoadedModel]) -> str:
    """Where each model's weights came from, one line each (Markdown)."""
    return "\n".join(f"- **{name}**: {loaded.message}" for name, loaded in models.items())


def show_sources(models: dict[str, LoadedModel], *names: str, elem_id: str | None = None) -> gr.Markdown:
    """The line at the top of a tab saying where each of its models' weights came from."""
    return gr.Markdown(model_status({name: models[name] for name in names}), elem_id=elem_id)


def face_images(images: torch.Tensor) -> list[Image.Image]:
    """Native-size images (the page enlarges them; downloads stay at the model's resolution)."""
    return [tensor_to_image(image) for image in images]


# Gradio's galleries sit in a box of at most 55 % of the window, at least 450 px high, and stretch a single
# image to the full width: 64 faces showed 3½ rows in a scrolling box, a one-row strip a tall empty box, and
# one face 1,200 px wide. Galleries made by `gallery` grow to show every image whole, at the column width.
CSS = ".whole-gallery .grid-wrap { max-height: none !important; min-height: 0 !important; }"


def gallery(label: str, columns: int = 8, **options: Any) -> gr.Gallery:
    """A gallery that shows all its images whole, `columns` to a row, even when there are fewer images."""
    return gr.Gallery(
        label=label,
        columns=columns,
        fit_columns=False,
        height="auto",
        object_fit="contain",
        format="png",
        elem_classes=["whole-gallery"],
        **options,
    )


def sample_controls(label: str, maximum: int, value: int, button_id: str) -> tuple[gr.Slider, gr.Number, gr.Button]:
    """A row with how many samples, their seed, and the button that draws them."""
    with gr.Row():
        count = gr.Slider(1, maximum, value=value, step=1, label=label)
        seed = gr.Number(value=0, step=1, label="Seed", minimum=0, maximum=MAX_SEED)
        button = gr.Button("Sample", elem_id=button_id)
    return count, seed, button


def face_examples(image_input: gr.Image) -> None:
    """Example inputs for a face photo: faces drawn by the suite's DCGAN, when they are shipped."""
    files = sorted(EXAMPLES.glob("face_*.png"))
    if files:
        gr.Examples([[str(path)] for path in files], inputs=image_input, label="Faces drawn by the DCGAN")


def image_upload(label: str, **options: Any) -> gr.Image:
    """An image input; its handler gets the uploaded file's reference, unopened (see `image_file`), so that
    `models.imaging.open_image` can say what is wrong with a file that is not a usable image."""
    return gr.Image(label=label, type="filepath", **{"sources": ["upload", "clipboard"], **options})


def save_pil_to_cache_atomically(img: Image.Image, cache_dir: str, name: str = "image", format: str = "webp") -> str:
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


def write_output_images_atomically() -> None:
    """Make Gradio write output images with `save_pil_to_cache_atomically`; called once by `app.main`."""
    processing_utils.save_pil_to_cache = save_pil_to_cache_atomically
