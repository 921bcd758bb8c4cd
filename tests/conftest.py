"""Shared fixtures: tiny data made on the spot, never the real data sets."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from benchmarks.server import running_app
from training.mnist import draw_digit


@pytest.fixture
def digit_files(tmp_path):
    """PNG files of a drawn one and zero, black ink on white paper."""
    paths = {}
    for kind in ("one", "zero"):
        paths[kind] = tmp_path / f"{kind}.png"
        draw_digit(kind).save(paths[kind])
    return paths


@pytest.fixture
def rng():
    return np.random.default_rng(0)


# --- the running app ------------------------------------------------------------------------


@pytest.fixture(scope="session")
def app_url(tmp_path_factory):
    """The real app on the shipped weights."""
    with running_app(tmp_path_factory.mktemp("app") / "app.log") as url:
        yield url


@pytest.fixture(scope="session")
def client(app_url):
    from gradio_client import Client

    return Client(app_url, verbose=False)


def train_tiny_models(root: Path) -> Path:
    """Tiny models for every tab, trained on data made on the spot; returns the weights folder.

    Seconds of training each: enough to check the app's wiring and its handling of bad input,
    whatever weights are shipped.
    """
    from training import (
        train_attributes,
        train_conditional_gan,
        train_cyclegan,
        train_dcgan,
        train_digits,
        train_face_vae,
        train_gpt,
        train_lstm,
    )
    from training.faces import tiny_synthetic_faces
    from training.mnist import tiny_synthetic_mnist

    weights = root / "weights"
    mnist = tiny_synthetic_mnist(root / "mnist", count=64)
    for model, beta in (("ae", 1.0), ("vae", 1.0), ("vae", 0.5), ("vae", 4.0)):
        name = train_digits.model_name(model, beta)
        train_digits.main(
            ["--model", model, "--beta", str(beta), "--data-dir", str(mnist), "--tiny", "--batch-size", "32"]
            + ["--out-dir", str(weights / name), "--run-dir", str(root / f"run-{name}")]
        )
    faces = tiny_synthetic_faces(root / "faces", count=64)
    common = ["--data-dir", str(faces), "--tiny", "--batch-size", "16"]
    train_face_vae.main([*common, "--out-dir", str(weights / "faces-vae"), "--run-dir", str(root / "run-vae")])
    train_dcgan.main([*common, "--out-dir", str(weights / "faces-dcgan"), "--run-dir", str(root / "run-gan")])
    train_conditional_gan.main(
        [*common, "--attributes", "none", "--out-dir", str(weights / "faces-cgan"), "--run-dir", str(root / "run-cgan")]
    )
    train_cyclegan.main([*common, "--out-dir", str(weights / "hair-cyclegan"), "--run-dir", str(root / "run-hair")])
    train_attributes.main(
        [*common, "--out-dir", str(weights / "face-attributes"), "--run-dir", str(root / "run-attributes")]
    )
    books = root / "books"
    books.mkdir()
    for name in ("first.txt", "second.txt", "held_out.txt"):
        (books / name).write_text("The quick brown fox jumps over the lazy dog. It was a cold day in April. " * 150)
    train_gpt.main(
        ["--data-dir", str(books), "--val-book", "held_out.txt", "--tiny"]
        + ["--out-dir", str(weights / "text-gpt2-small"), "--run-dir", str(root / "run-text")]
    )
    train_lstm.main(  # with the GPT's tokenizer, as the shipped LSTM
        ["--data-dir", str(books), "--val-book", "held_out.txt", "--tiny"]
        + ["--tokenizer", str(weights / "text-gpt2-small")]
        + ["--out-dir", str(weights / "text-lstm"), "--run-dir", str(root / "run-text-lstm")]
    )
    return weights


@pytest.fixture(scope="session")
def tiny_weights(tmp_path_factory) -> Path:
    """A weights folder with a tiny model of every tab, trained once per test session."""
    return train_tiny_models(tmp_path_factory.mktemp("tiny-models"))


@pytest.fixture(scope="session")
def tiny_client(tiny_weights, tmp_path_factory):
    """gradio_client connected to the real app (`python app.py`) serving the tiny models."""
    from gradio_client import Client

    log = tmp_path_factory.mktemp("tiny-app") / "app.log"
    # Text is streamed after every token, so that the tiny model's fast completions arrive in several parts.
    with running_app(log, "--weights-dir", str(tiny_weights), "--stream-interval", "0") as url:
        yield Client(url, verbose=False)
