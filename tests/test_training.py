"""The training scripts' tiny mode end to end, on data the test makes itself."""

import json

import pytest
import torch

from models.digits import VAE, Autoencoder, reconstruct
from training import train_digits
from training.mnist import load_mnist, tiny_synthetic_mnist


def test_synthetic_mnist_loads_like_the_real_thing(tmp_path):
    train, test = load_mnist(tiny_synthetic_mnist(tmp_path / "mnist", count=40))
    images, labels = train.tensors
    assert images.shape == (40, 1, 28, 28) and labels.shape == (40,)
    assert images.min() == 0 and images.max() == 1
    assert len(test) == 40


@pytest.mark.parametrize("model, cls", [("ae", Autoencoder), ("vae", VAE)])
def test_tiny_training_writes_a_loadable_folder(tmp_path, model, cls):
    data = tiny_synthetic_mnist(tmp_path / "mnist", count=256)
    out, run = tmp_path / "out", tmp_path / "run"
    args = [
        "--model",
        model,
        "--data-dir",
        str(data),
        "--out-dir",
        str(out),
        "--run-dir",
        str(run),
        "--tiny",
        "--batch-size",
        "32",
    ]
    metrics = train_digits.main(args)

    loaded = cls.from_pretrained(out)
    assert reconstruct(loaded, torch.rand(2, 1, 28, 28)).shape == (2, 1, 28, 28)
    card = (out / "README.md").read_text()
    assert "--tiny" in card and "wall time" in card and "CC BY-SA 3.0" in card
    assert json.loads((out / "training_metrics.json").read_text())
    assert (run / "loss.png").exists() and (run / "reconstructions_epoch001.png").exists()
    if model == "vae":
        assert (run / "samples_epoch001.png").exists()

    # resume: a second epoch continues from the checkpoint instead of starting over
    resumed = train_digits.main([*args, "--resume", "--epochs", "2"])
    checkpoint = torch.load(run / "checkpoint.pt", weights_only=True)
    assert checkpoint["epoch"] == 2 and len(checkpoint["history"]["test"]) == 2
    metric = "mse" if model == "ae" else "loss"
    assert resumed[metric] < metrics[metric]  # one more epoch of training lowered the test loss


def test_validation_split_exports_the_best_epoch(tmp_path):
    data = tiny_synthetic_mnist(tmp_path / "mnist", count=256)
    out = tmp_path / "out"
    args = ["--model", "ae", "--data-dir", str(data), "--out-dir", str(out), "--run-dir", str(tmp_path / "run")]
    metrics = train_digits.main([*args, "--tiny", "--epochs", "2", "--val-size", "64", "--batch-size", "32"])
    checkpoint = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)
    validation = checkpoint["history"]["validation"]
    assert len(validation) == 2
    assert metrics["selected_epoch"] == 1 + validation.index(min(validation))
    exported = Autoencoder.from_pretrained(out).state_dict()
    assert all(torch.equal(exported[key], value) for key, value in checkpoint["best"]["model"].items())
    assert "exported epoch (best on the validation images)" in (out / "README.md").read_text()


def test_a_beta_vae_records_its_beta_and_what_its_code_holds(tmp_path):
    data = tiny_synthetic_mnist(tmp_path / "mnist", count=128)
    out = tmp_path / "out"
    args = ["--model", "vae", "--beta", "4", "--data-dir", str(data), "--out-dir", str(out)]
    metrics = train_digits.main([*args, "--run-dir", str(tmp_path / "run"), "--tiny", "--batch-size", "32"])
    assert VAE.from_pretrained(out).beta == 4.0
    assert metrics["loss"] == pytest.approx(metrics["reconstruction"] + 4 * metrics["kl"], rel=1e-4)
    assert len(metrics["kl_per_coordinate"]) == 20 and 0 <= metrics["active_coordinates"] <= 20
    card = (out / "README.md").read_text()
    assert (
        "β-VAE (β = 4)" in card and "| β (weight of the KL term) | 4 |" in card and "active latent coordinates" in card
    )
    assert train_digits.parse_args(["--model", "vae", "--beta", "0.5"]).out_dir.name == "digits-vae-beta0.5"
    with pytest.raises(SystemExit):
        train_digits.parse_args(["--model", "ae", "--beta", "4"])
