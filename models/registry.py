"""Every model the app serves, in one place: its name, default Hub repo and loader.

`app.py`, `deploy.py` and the benchmarks all read `MODELS`; `load_models` loads them all with
`models.loading.ModelLoader` (Hub first, then the local HF cache, then the shipped `weights/<name>/`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from models import attributes, conditional_gan, cyclegan, dcgan, digits, face_vae, text
from models.loading import LoadedModel, ModelLoader, spec_from_env

ROOT = Path(__file__).resolve().parent.parent
WEIGHTS = ROOT / "weights"
EXAMPLES = WEIGHTS / "examples"

# Each model: its name (also the env-var prefix and the weights/ folder), default Hub repo, and loader.
MODELS: dict[str, tuple[str, Callable[[Path], Any]]] = {
    "digits-ae": ("generative-models-suite/mnist-autoencoder", digits.Autoencoder.from_pretrained),
    "digits-vae": ("generative-models-suite/mnist-vae", digits.VAE.from_pretrained),
    "digits-vae-beta0.5": ("generative-models-suite/mnist-beta-vae-0.5", digits.VAE.from_pretrained),
    "digits-vae-beta4": ("generative-models-suite/mnist-beta-vae-4", digits.VAE.from_pretrained),
    "faces-dcgan": ("generative-models-suite/celeba-dcgan", dcgan.load_generator),
    "faces-cgan": ("generative-models-suite/celeba-glasses-cgan", conditional_gan.load_conditional_generator),
    "faces-vae": ("generative-models-suite/celeba-vae", face_vae.load_face_vae),
    # Not a tab: it says on the glasses tab what an edit did (glasses, and whether it changed more).
    "face-attributes": ("generative-models-suite/celeba-attributes", attributes.load_attribute_classifier),
    "hair-cyclegan": ("generative-models-suite/celeba-hair-cyclegan", cyclegan.load_cyclegan),
    "text-gpt2": ("openai-community/gpt2", text.load_text_model),  # no shipped copy: Hub or HF cache only
    "text-gpt2-small": ("generative-models-suite/text-gpt2-small", text.load_text_model),
    "text-lstm": ("generative-models-suite/text-lstm", text.load_text_model),
}
# The digits VAE trained at other weights of its KL term (β-VAEs), beside the VAE itself (β = 1), by β.
BETA_VAES = {0.5: "digits-vae-beta0.5", 1.0: "digits-vae", 4.0: "digits-vae-beta4"}
TEXT_MODELS = ("text-gpt2", "text-gpt2-small", "text-lstm")
# transformers takes seconds to import, longer than the rest of the app's start: the page comes up first,
# and these load in a background thread (see `models.loading.finish_loading`).
LOAD_AFTER_START = TEXT_MODELS

# On ZeroGPU (and any machine with CUDA) the models live on the GPU; inputs follow them there.
DEVICE = torch.device("cuda" if torch.cuda.is_available() else "cpu")


def load_models(
    offline: bool,
    overrides: dict[str, str],
    hub_timeout: float = 3.0,
    weights_dir: Path = WEIGHTS,
    later: tuple[str, ...] = (),
    text_precision: str = "auto",
) -> dict[str, LoadedModel]:
    """Every model of MODELS, on DEVICE; those named in `later` are placeholders until `finish_loading`.

    `text_precision`: how the text models compute, one of `models.text.PRECISIONS`.
    """
    loader = ModelLoader(offline=offline or None, hub_timeout=hub_timeout)  # not --offline: HF_HUB_OFFLINE decides
    loaded = {}
    for name, (default_repo, load_fn) in MODELS.items():
        if name in TEXT_MODELS:
            load_fn = functools.partial(load_fn, precision=text_precision)
        spec = spec_from_env(name, default_repo, weights_dir / name, overrides)
        load_on_device = functools.partial(_load_on_device, load_fn)
        loaded[name] = loader.load_later(spec, load_on_device) if name in later else loader.load(spec, load_on_device)
        print(f"[{name}] {loaded[name].message}")
    return loaded


def _load_on_device(load_fn: Callable[[Path], Any], folder: Path) -> Any:
    return load_fn(folder).to(DEVICE)
