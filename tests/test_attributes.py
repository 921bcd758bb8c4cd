"""The face attribute classifier: model, predict, blur, held-out figures and the tiny training run."""

import json
import math

import pytest
import torch
from safetensors.torch import save_file

from models.attributes import (
    ATTRIBUTES,
    AttributeClassifier,
    attribute_figures,
    decide,
    gaussian_blur,
    load_attribute_classifier,
    predict,
)
from training import train_attributes
from training.faces import FaceDataset, augment, tiny_synthetic_faces


@pytest.fixture
def classifier():
    torch.manual_seed(0)
    return AttributeClassifier().eval()


@pytest.mark.parametrize("size", [32, 64])
def test_shapes_and_predict(size):
    model = AttributeClassifier(image_size=size).eval()
    assert model(torch.rand(3, 3, size, size)).shape == (3, len(ATTRIBUTES))
    probabilities = predict(model, torch.rand(5, 3, size, size))
    assert set(probabilities) == set(ATTRIBUTES)
    assert all(value.shape == (5,) and ((0 <= value) & (value <= 1)).all() for value in probabilities.values())
    assert predict(model, torch.rand(3, size, size))["male"].shape == (1,)  # one face, no batch dimension
    faces = torch.randint(0, 256, (2, 3, size, size), dtype=torch.uint8)  # as FaceDataset stores them
    assert torch.allclose(predict(model, faces)["male"], predict(model, faces.float() / 255)["male"])
    with pytest.raises(ValueError, match="expected"):
        predict(model, torch.rand(1, 3, size + 8, size + 8))


def test_small_enough_to_ship(classifier):
    assert sum(p.numel() for p in classifier.parameters()) * 4 < 2 * 2**20  # float32 bytes: under 2 MiB


def test_decide_uses_the_thresholds_in_the_config(tmp_path):
    model = AttributeClassifier(thresholds={"eyeglasses": 0.9}).eval()
    assert model.thresholds == {"eyeglasses": 0.9, "male": 0.5, "black_hair": 0.5, "blond_hair": 0.5}
    model.save_pretrained(tmp_path)
    loaded = load_attribute_classifier(tmp_path)
    assert loaded.thresholds == model.thresholds and loaded.attributes == ATTRIBUTES
    said = decide(loaded, {"eyeglasses": torch.tensor([0.5, 0.95]), "male": torch.tensor([0.5, 0.4])})
    assert said["eyeglasses"].tolist() == [False, True] and said["male"].tolist() == [True, False]
    with pytest.raises(ValueError, match="unknown attributes"):
        AttributeClassifier(thresholds={"hat": 0.5})


def test_save_and_load_round_trip_is_strict(classifier, tmp_path):
    classifier.save_pretrained(tmp_path)
    loaded = load_attribute_classifier(tmp_path)
    assert not loaded.training
    images = torch.rand(2, 3, 64, 64)
    assert torch.equal(loaded(images), classifier(images))
    state = {key: value for key, value in classifier.state_dict().items() if not key.startswith("head")}
    save_file(state, tmp_path / "model.safetensors")
    with pytest.raises(RuntimeError, match="[Mm]issing"):
        load_attribute_classifier(tmp_path)


def test_gaussian_blur():
    images = torch.rand(3, 3, 32, 32)
    assert torch.equal(gaussian_blur(images, 0.0), images)
    blurred = gaussian_blur(images, torch.tensor([0.0, 1.0, 2.0]))  # one sigma per image
    assert torch.allclose(blurred[0], images[0])
    # alone or in a batch with a larger sigma (so a longer kernel), an image is blurred the same
    assert torch.allclose(blurred[1], gaussian_blur(images[1:2], 1.0)[0], atol=1e-4)
    assert images[0].std() > blurred[1].std() > blurred[2].std()  # more blur, less contrast
    assert torch.allclose(blurred.mean((2, 3)), images.mean((2, 3)), atol=0.02)  # brightness kept
    constant = torch.full((1, 3, 16, 16), 0.3)
    assert torch.allclose(gaussian_blur(constant, 1.5), constant)


def test_attribute_figures_count_what_they_say(classifier):
    images = torch.rand(8, 3, 64, 64)
    said = decide(classifier, predict(classifier, images))["eyeglasses"].long()
    # labels: the first four agree with the classifier, the last four disagree
    truth = torch.cat([said[:4], 1 - said[4:]])
    sunglasses = torch.zeros(8, dtype=torch.long)
    figures = attribute_figures(classifier, images, {"eyeglasses": truth}, sunglasses)
    assert figures["eyeglasses_accuracy"] == 0.5
    positives, negatives = truth.bool(), ~truth.bool()
    for name, among, hits in (("recall", positives, said.bool()), ("specificity", negatives, ~said.bool())):
        expected = hits[among].float().mean().item() if among.any() else math.nan
        assert figures[f"eyeglasses_{name}"] == pytest.approx(expected, nan_ok=True)
    assert {"eyeglasses_recall_clear", "eyeglasses_recall_blurred", "eyeglasses_specificity_blurred"} <= set(figures)


def test_augment_keeps_shape_and_range():
    torch.manual_seed(0)
    images = torch.rand(6, 3, 64, 64)
    augmented = augment(images, max_shift=4, blur_share=0.5, max_blur=2.0)
    assert augmented.shape == images.shape and 0 <= augmented.min() and augmented.max() <= 1
    unchanged = augment(images, max_shift=0, blur_share=0.0, max_blur=2.0)
    assert all(torch.equal(new, old) or torch.equal(new, old.flip(-1)) for new, old in zip(unchanged, images))


def test_tiny_training_writes_a_loadable_folder(tmp_path):
    data = tiny_synthetic_faces(tmp_path / "faces", count=48)
    out, run = tmp_path / "out", tmp_path / "run"
    args = ["--data-dir", str(data), "--out-dir", str(out), "--run-dir", str(run), "--tiny", "--batch-size", "16"]
    metrics = train_attributes.main(args)
    assert {"eyeglasses_recall_clear", "eyeglasses_recall_blurred", "male_accuracy"} <= set(metrics)

    model = load_attribute_classifier(out)
    assert model.attributes == ATTRIBUTES and set(model.thresholds) == set(ATTRIBUTES)
    assert json.loads((out / "config.json").read_text())["thresholds"] == model.thresholds
    assert (out / "model.safetensors").stat().st_size < 2 * 2**20
    val = FaceDataset(data, split="val", progress=False)
    assert train_attributes.evaluate(model, val) == pytest.approx(metrics, nan_ok=True)  # the card's figures
    card = (out / "README.md").read_text()
    assert "--tiny" in card and "wall time" in card and "non-commercial" in card and "clear glasses" in card
    assert json.loads((out / "training_metrics.json").read_text())
    assert (run / "loss.png").exists() and (run / "val.png").exists()

    # resume: a second epoch continues from the checkpoint instead of starting over
    train_attributes.main([*args, "--resume", "--epochs", "2"])
    checkpoint = torch.load(run / "checkpoint.pt", weights_only=True)
    assert checkpoint["epoch"] == 2 and len(checkpoint["history"]["train loss"]) == 2
    assert "| epochs | 2 |" in (out / "README.md").read_text()
