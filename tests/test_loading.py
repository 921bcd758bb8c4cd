"""The one loading mechanism: Hub first, cache, then shipped weights; never the network in tests."""

import time

import httpx
import pytest
import torch
from huggingface_hub.errors import LocalEntryNotFoundError, RevisionNotFoundError

from models import loading
from models.digits import Autoencoder
from models.loading import ModelLoader, ModelSpec, spec_from_env


@pytest.fixture
def shipped(tmp_path):
    folder = tmp_path / "shipped"
    Autoencoder().save_pretrained(folder)
    return folder


@pytest.fixture
def spec(shipped):
    return ModelSpec(name="digits-ae", repo_id="someone/mnist-ae", shipped_dir=shipped)


def fake_hub(monkeypatch, online=None, cached=None):
    """Replace the Hub: `online(repo_id, revision)` answers the repo question and the download
    (it may raise, hang, or return a folder); `cached` answers cache lookups."""
    calls = []

    def model_info(repo_id, revision=None, **kwargs):
        calls.append("network")
        if online is None:
            raise httpx.ConnectError("no network in tests")
        online(repo_id, revision)

    def snapshot_download(repo_id, revision=None, local_files_only=False, **kwargs):
        calls.append("cache" if local_files_only else "download")
        handler = cached if local_files_only else online
        if handler is None:
            raise LocalEntryNotFoundError("not cached")
        return handler(repo_id, revision)

    monkeypatch.setattr(loading, "model_info", model_info)
    monkeypatch.setattr(loading, "snapshot_download", snapshot_download)
    return calls


def test_hub_that_hangs_falls_back_within_the_deadline(monkeypatch, spec):
    calls = fake_hub(monkeypatch, online=lambda *_: time.sleep(30))
    loader = ModelLoader(offline=False, hub_timeout=0.5)
    started = time.monotonic()
    first = loader.load(spec, Autoencoder.from_pretrained)
    second = loader.load(spec, Autoencoder.from_pretrained)
    assert time.monotonic() - started < 3.0
    assert first.origin == second.origin == "shipped"
    assert "no answer within 0.5 s" in first.message
    assert calls.count("network") == 1  # the second model did not wait again


def test_unreachable_hub_falls_back_to_shipped(monkeypatch, spec):
    def refuse(*_):
        raise httpx.ConnectError("Name or service not known")

    fake_hub(monkeypatch, online=refuse)
    loaded = ModelLoader(offline=False).load(spec, Autoencoder.from_pretrained)
    assert loaded.available and loaded.origin == "shipped"
    assert "Hub unreachable" in loaded.message and "ConnectError" in loaded.message


def test_slow_download_is_not_cut_off_once_the_hub_answered(monkeypatch, spec, tmp_path):
    hub_copy = tmp_path / "hub"
    Autoencoder().save_pretrained(hub_copy)

    def answer(repo_id, revision):
        if calls.count("download"):
            time.sleep(1.0)  # a big model: longer than the deadline, which only guards the question
        return hub_copy

    calls = fake_hub(monkeypatch, online=answer)
    loaded = ModelLoader(offline=False, hub_timeout=0.3).load(spec, Autoencoder.from_pretrained)
    assert loaded.origin == "hub" and calls == ["network", "download"]


def test_bad_revision_is_named_and_shipped_weights_used(monkeypatch, shipped):
    def missing_revision(repo_id, revision):
        raise RevisionNotFoundError(
            f"{revision} not found", response=httpx.Response(404, request=httpx.Request("GET", "http://hub"))
        )

    fake_hub(monkeypatch, online=missing_revision)
    spec = ModelSpec(name="digits-ae", repo_id="someone/mnist-ae", shipped_dir=shipped, revision="no-such-tag")
    loaded = ModelLoader(offline=False).load(spec, Autoencoder.from_pretrained)
    assert loaded.origin == "shipped"
    assert "revision 'no-such-tag' not found in Hub repo someone/mnist-ae" in loaded.message


def test_reachable_hub_is_preferred(monkeypatch, spec, tmp_path):
    hub_copy = tmp_path / "hub"
    Autoencoder().save_pretrained(hub_copy)
    fake_hub(monkeypatch, online=lambda *_: hub_copy)
    loaded = ModelLoader(offline=False).load(spec, Autoencoder.from_pretrained)
    assert loaded.origin == "hub" and loaded.folder == hub_copy
    assert loaded.message == "Hub repo someone/mnist-ae"


def test_offline_uses_the_cache_before_shipped_weights(monkeypatch, spec, tmp_path):
    cached = tmp_path / "cached"
    Autoencoder().save_pretrained(cached)
    calls = fake_hub(
        monkeypatch, online=lambda *_: pytest.fail("offline mode must not call the Hub"), cached=lambda *_: cached
    )
    loaded = ModelLoader(offline=True).load(spec, Autoencoder.from_pretrained)
    assert loaded.origin == "hub-cache" and calls == ["cache"]


def test_corrupt_hub_copy_falls_back_to_shipped(monkeypatch, spec, tmp_path):
    broken = tmp_path / "broken"
    Autoencoder().save_pretrained(broken)
    (broken / "model.safetensors").write_bytes(b"not a safetensors file")
    fake_hub(monkeypatch, online=lambda *_: broken)
    loaded = ModelLoader(offline=False).load(spec, Autoencoder.from_pretrained)
    assert loaded.origin == "shipped"
    assert "after failing to load the hub copy" in loaded.message and "()" not in loaded.message


def test_missing_or_corrupt_weights_disable_the_model(monkeypatch, tmp_path, shipped):
    fake_hub(monkeypatch)
    missing = ModelLoader(offline=True).load(
        ModelSpec("digits-ae", "someone/mnist-ae", tmp_path / "nowhere"), Autoencoder.from_pretrained
    )
    assert not missing.available and missing.origin == "unavailable"
    assert "no weights found" in missing.message

    (shipped / "model.safetensors").write_bytes(b"\x00" * 10)
    corrupt = ModelLoader(offline=True).load(
        ModelSpec("digits-ae", "someone/mnist-ae", shipped), Autoencoder.from_pretrained
    )
    assert not corrupt.available and corrupt.message.startswith("disabled:")


def test_strict_loading_through_the_loader(monkeypatch, shipped):
    from safetensors.torch import save_file

    fake_hub(monkeypatch)
    save_file({"encoder.1.weight": torch.zeros(200, 784)}, shipped / "model.safetensors")
    loaded = ModelLoader(offline=True).load(ModelSpec("digits-ae", "x/y", shipped), Autoencoder.from_pretrained)
    assert not loaded.available and "Missing key" in loaded.message


def test_spec_overrides(monkeypatch, tmp_path):
    monkeypatch.setenv("DIGITS_VAE_REPO", "env/repo")
    monkeypatch.setenv("DIGITS_VAE_REVISION", "v2")
    assert spec_from_env("digits-vae", "default/repo", tmp_path).hub_label == "env/repo@v2"
    overridden = spec_from_env("digits-vae", "default/repo", tmp_path, {"digits-vae": "cli/repo@abc"})
    assert (overridden.repo_id, overridden.revision) == ("cli/repo", "abc")
    monkeypatch.delenv("DIGITS_VAE_REPO")
    monkeypatch.delenv("DIGITS_VAE_REVISION")
    assert spec_from_env("digits-vae", "default/repo", tmp_path).hub_label == "default/repo"
    monkeypatch.setenv("DIGITS_VAE_BETA0_5_REPO", "env/beta@v1")
    assert spec_from_env("digits-vae-beta0.5", "default/repo", tmp_path).hub_label == "env/beta@v1"


def test_card_and_revision_of_a_hub_snapshot(monkeypatch, spec, tmp_path):
    snapshot = tmp_path / "snapshots" / "0123abcd"
    Autoencoder().save_pretrained(snapshot)
    (snapshot / "README.md").write_text("---\nlicense: mit\ntags:\n- mnist\n---\n\n# An autoencoder\n\nTrained here.\n")
    fake_hub(monkeypatch, online=lambda *_: snapshot)
    loaded = ModelLoader(offline=False).load(spec, Autoencoder.from_pretrained)
    assert loaded.revision == "0123abcd"
    assert loaded.card == "# An autoencoder\n\nTrained here."


def test_shipped_weights_have_no_revision_and_may_lack_a_card(spec, shipped):
    (shipped / "README.md").unlink(missing_ok=True)
    loaded = ModelLoader(offline=True).load(spec, Autoencoder.from_pretrained)
    assert loaded.origin == "shipped" and loaded.revision is None
    assert loaded.card == ""


def test_load_later_fills_the_placeholder_in_the_background(spec):
    loader = ModelLoader(offline=True)
    placeholder = loader.load_later(spec, Autoencoder.from_pretrained)
    assert placeholder.origin == "loading" and not placeholder.available and not placeholder.ready.is_set()
    seen = []
    loading.finish_loading([placeholder], on_ready=seen.append).join(timeout=60)
    assert placeholder.ready.is_set() and placeholder.available and placeholder.origin == "shipped"
    assert seen == [placeholder]


def test_a_model_that_fails_to_load_later_is_ready_and_says_why(spec):
    def broken(folder):
        raise OSError("disk on fire")

    placeholder = ModelLoader(offline=True).load_later(spec, broken)
    loading.finish_loading([placeholder]).join(timeout=60)
    assert placeholder.ready.is_set() and not placeholder.available
    assert "disabled" in placeholder.message and "disk on fire" in placeholder.message
