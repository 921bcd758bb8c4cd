"""The LSTM language model: its shapes and state, tiny training end to end (card, resume), loading with the GPT's
loader, and generation through the app's streaming code (seeds, Stop, end of text), the tab included.

All on small texts the tests write themselves (tests/test_text.py's grammar); the model is the tiny one the
training script makes.
"""

from __future__ import annotations

import json
import math
import shutil
import threading

import gradio as gr
import pytest
import torch
from safetensors.torch import load_file
from transformers import GenerationConfig

from models.loading import ModelLoader, ModelSpec
from models.lstm import LSTMLanguageModel
from models.registry import MODELS, TEXT_MODELS
from models.text import GenerationSettings, complete, load_text_model, load_tokenizer, stream_completion
from tabs.text import TextTab
from tests.test_text import write_book
from training import loop, train_lstm


@pytest.fixture(scope="module")
def books(tmp_path_factory):
    folder = tmp_path_factory.mktemp("books")
    for seed, name in enumerate(["book_one.txt", "book_two.txt", "held_out.txt", "second_kind.txt"]):
        write_book(folder / name, seed)
    return folder


def tiny_args(books, root, *extra: str) -> list[str]:
    return [
        *["--tiny", "--data-dir", str(books), "--val-book", "held_out.txt", "--val-book2", "second_kind.txt"],
        *["--out-dir", str(root / "out"), "--run-dir", str(root / "run"), *extra],
    ]


@pytest.fixture(scope="module")
def trained(books, tmp_path_factory):
    """The tiny run, with a tokenizer of its own: (output folder, run folder, returned metrics)."""
    root = tmp_path_factory.mktemp("run")
    metrics = train_lstm.main(tiny_args(books, root))
    return root / "out", root / "run", metrics


@pytest.fixture(scope="module")
def loaded(trained):
    return load_text_model(trained[0])


# --- the model ---------------------------------------------------------------------------------


def test_shapes_and_the_state_that_carries_the_text_on():
    torch.manual_seed(0)
    model = LSTMLanguageModel(vocab_size=50, n_embd=16, hidden_size=24, n_layer=3, dropout=0.0).eval()
    ids = torch.randint(50, (2, 9))
    logits, (h, c) = model(ids)
    assert logits.shape == (2, 9, 50) and h.shape == c.shape == (3, 2, 24)
    # Reading the text in two parts, the state handed over, gives the same predictions as reading it at once.
    first, state = model(ids[:, :4])
    second, _ = model(ids[:, 4:], state)
    assert torch.allclose(torch.cat([first, second], dim=1), logits, atol=1e-5)
    assert model.head.weight is not model.embedding.weight  # 16 and 24 wide: nothing to tie

    tied = LSTMLanguageModel(vocab_size=50, n_embd=24, hidden_size=24, n_layer=1)
    assert tied.head.weight is tied.embedding.weight
    assert sum(p.numel() for p in tied.parameters()) < sum(p.numel() for p in model.parameters())


def test_save_pretrained_and_load_text_model_round_trip(tmp_path, trained):
    vocabulary = len(load_tokenizer(trained[0]))
    model = LSTMLanguageModel(vocab_size=vocabulary, n_embd=32, hidden_size=32, n_layer=2, context_length=96)
    model.save_pretrained(tmp_path)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(trained[0] / name, tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["model_type"] == "lstm" and config["hidden_size"] == 32 and config["context_length"] == 96

    text_model = load_text_model(tmp_path)
    lstm = text_model.model
    assert isinstance(lstm, LSTMLanguageModel) and not lstm.training and lstm.dtype == torch.float32
    assert lstm.head.weight is lstm.embedding.weight  # still tied after loading
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), lstm.state_dict().values()))
    assert text_model.context_length == 96 and text_model.precision == "float32"
    assert text_model.parameter_count == sum(p.numel() for p in model.parameters())
    assert text_model.name == "LSTM (2 layers, 32 wide)"  # no card: described from the config

    assert load_text_model(tmp_path, precision="bfloat16").precision == "bfloat16"
    result = complete(load_text_model(tmp_path, precision="bfloat16"), "The sea", GenerationSettings(5, seed=0))
    assert result.finished and 0 < result.new_tokens <= 5

    (tmp_path / "model.safetensors").unlink()
    with pytest.raises(OSError):
        load_text_model(tmp_path)


# --- training ----------------------------------------------------------------------------------


def test_tiny_training_writes_a_card_with_bits_per_byte_on_each_book(trained):
    out, run, metrics = trained
    for name in ["config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "README.md"]:
        assert (out / name).exists(), name
    assert (run / "loss.png").exists() and (run / "checkpoint.pt").exists()
    card = (out / "README.md").read_text(encoding="utf-8")
    assert "python -m training.train_lstm --tiny" in card
    assert "tokens seen | 5,120" in card  # 20 steps of 8 streams × 32 tokens
    assert "| parameters |" in card and "wall time" in card and "public domain" in card
    assert "held_out.txt" in card and "second_kind.txt" in card and "book_one.txt, book_two.txt" in card
    recorded = json.loads((out / "training_metrics.json").read_text())
    assert recorded["validation bits per byte"] == pytest.approx(metrics["bits_per_byte"], abs=1e-4)
    assert recorded["second validation bits per byte"] == pytest.approx(metrics["bits_per_byte_2"], abs=1e-4)
    assert recorded["validation bits per byte, 64-token windows"] == pytest.approx(
        metrics["bits_per_byte_long"], abs=1e-4
    )
    vocabulary = len(load_tokenizer(out))
    # A model that knows nothing scores ln(vocabulary) nats per token: 20 steps must beat it.
    assert metrics["val_loss"] < math.log(vocabulary) and metrics["val_loss_2"] < math.log(vocabulary)
    assert 0 < metrics["bits_per_byte"] < 8
    config = json.loads((out / "config.json").read_text())
    assert config["model_type"] == "lstm" and config["context_length"] == 64  # --carry 2 × --context 32


def test_stream_windows_carry_the_state_and_are_known_from_the_step():
    ids = torch.arange(1000)
    first, fresh = train_lstm.stream_windows(ids, batch_size=6, context=10, carry=3, step=7, seed=1)
    assert first.shape == (6, 11) and fresh.tolist() == [(7 + row) % 3 == 0 for row in range(6)]
    following, _ = train_lstm.stream_windows(ids, batch_size=6, context=10, carry=3, step=8, seed=1)
    for row in range(6):
        assert torch.equal(first[row], torch.arange(first[row, 0], first[row, 0] + 11))  # consecutive tokens
        if (8 + row) % 3 != 0:  # the stream goes on where it stopped (its last token is read again, as input)
            assert following[row, 0] == first[row, -1]
    again, _ = train_lstm.stream_windows(ids, batch_size=6, context=10, carry=3, step=7, seed=1)
    assert torch.equal(again, first)


def test_tokenizer_option_and_an_interrupted_run_resumes_bit_exactly(trained, books, tmp_path, monkeypatch):
    tokenizer = str(trained[0])
    train_lstm.main(tiny_args(books, tmp_path / "whole", "--tokenizer", tokenizer))

    class Interrupted(Exception):
        pass

    save = loop.TrainingRun.save

    def save_then_stop(self, done, *args, **kwargs):
        save(self, done, *args, **kwargs)
        if done == 10:
            raise Interrupted

    monkeypatch.setattr(loop.TrainingRun, "save", save_then_stop)
    args = tiny_args(books, tmp_path / "parts", "--tokenizer", tokenizer)
    with pytest.raises(Interrupted):
        train_lstm.main(args)
    monkeypatch.undo()
    assert not (tmp_path / "parts" / "out").exists()
    train_lstm.main([*args, "--resume"])

    whole = load_file(tmp_path / "whole" / "out" / "model.safetensors")
    resumed = load_file(tmp_path / "parts" / "out" / "model.safetensors")
    assert whole.keys() == resumed.keys() and all(torch.equal(whole[key], resumed[key]) for key in whole)
    ours = load_tokenizer(tmp_path / "parts" / "out")
    assert ours.get_vocab() == load_tokenizer(tokenizer).get_vocab()  # the given tokenizer, kept
    checkpoint = torch.load(tmp_path / "parts" / "run" / "checkpoint.pt", weights_only=True)
    assert checkpoint["step"] == 20 and checkpoint["history"]["step"] == [10, 20]


# --- generation --------------------------------------------------------------------------------


def test_loads_our_model_for_cpu_inference(loaded, trained):
    assert isinstance(loaded.model, LSTMLanguageModel) and not loaded.model.training
    assert loaded.name.startswith("LSTM language model") and loaded.context_length == 64
    spec = ModelSpec(name="text-lstm", repo_id="nobody/absent", shipped_dir=trained[0])
    result = ModelLoader(offline=True).load(spec, load_text_model)
    assert result.available and result.origin == "shipped" and result.model.context_length == 64


def test_seeded_generation_repeats(loaded):
    settings = GenerationSettings(max_new_tokens=30, temperature=1.0, seed=7)
    first = complete(loaded, "The old man", settings)
    assert complete(loaded, "The old man", settings).text == first.text and first.seed == 7
    other = complete(loaded, "The old man", GenerationSettings(max_new_tokens=30, temperature=1.0, seed=8))
    assert other.text != first.text
    greedy = GenerationSettings(max_new_tokens=20, temperature=0)
    assert complete(loaded, "The captain", greedy).text == complete(loaded, "The captain", greedy).text


def test_generation_carries_the_state_instead_of_rereading_the_text(loaded):
    """Greedy generation with the state carried picks the tokens that rereading the whole text each step picks."""
    model, tokenizer = loaded.model, loaded.tokenizer
    prompt = torch.tensor([tokenizer.encode("The doctor walked to")])
    generated = model.generate(input_ids=prompt, max_new_tokens=12, do_sample=False)
    assert generated.shape == (1, prompt.shape[1] + 12) and torch.equal(generated[:, : prompt.shape[1]], prompt)
    ids = prompt
    with torch.no_grad():
        for _ in range(12):
            ids = torch.cat([ids, model(ids)[0][:, -1].argmax(-1, keepdim=True)], dim=1)
    assert torch.equal(generated, ids)
    # top_k 1 leaves only the likeliest token to sample: transformers' TopKLogitsWarper is applied
    sampled = model.generate(input_ids=prompt, max_new_tokens=12, do_sample=True, top_k=1, temperature=1.5)
    assert torch.equal(sampled, generated)
    with pytest.raises(TypeError, match="does not support: bogus_setting"):
        model.generate(input_ids=prompt, max_new_tokens=2, bogus_setting=3)
    with pytest.raises(TypeError, match="does not support: no_repeat_ngram_size"):  # refused, not ignored
        model.generate(input_ids=prompt, generation_config=GenerationConfig(max_new_tokens=2, no_repeat_ngram_size=2))


def test_stream_yields_growing_text_and_stop_stops_it(loaded, monkeypatch):
    parts = list(stream_completion(loaded, "The doctor", GenerationSettings(max_new_tokens=40, seed=1), None, 0))
    assert len(parts) >= 4 and [part.finished for part in parts] == [False] * (len(parts) - 1) + [True]
    for before, after in zip(parts, parts[1:]):
        assert after.text.startswith(before.text)
    assert parts[-1].stop_reason in ("length", "end of text") and 0 < parts[-1].new_tokens <= 40

    stop = threading.Event()
    forward = loaded.model.forward
    calls = []

    def forward_then_press_stop(*args, **kwargs):  # the user presses Stop while the 5th token is computed
        calls.append(args[0].shape[1])
        if len(calls) == 5:
            stop.set()
        return forward(*args, **kwargs)

    monkeypatch.setattr(loaded.model, "forward", forward_then_press_stop)
    settings = GenerationSettings(max_new_tokens=60, seed=2)
    stopped = list(stream_completion(loaded, "Nobody", settings, stop_event=stop))[-1]
    assert stopped.finished and stopped.stop_reason == "stopped" and stopped.new_tokens == 5
    assert calls[1:] == [1, 1, 1, 1]  # the prompt once, then one token per step: nothing is read twice
    monkeypatch.undo()
    unstopped = complete(loaded, "Nobody", settings)
    assert unstopped.new_tokens > 5 and unstopped.text.startswith(stopped.text)


def test_the_end_of_text_token_ends_the_completion(loaded, monkeypatch):
    eos = loaded.tokenizer.eos_token_id
    forward = loaded.model.forward

    def always_the_end(*args, **kwargs):
        logits, state = forward(*args, **kwargs)
        logits[..., eos] = 1e4
        return logits, state

    monkeypatch.setattr(loaded.model, "forward", always_the_end)
    result = complete(loaded, "She", GenerationSettings(max_new_tokens=20, seed=0))
    assert result.stop_reason == "end of text" and result.new_tokens == 1 and result.text == ""
    # min_new_tokens holds the end off (transformers' MinNewTokensLengthLogitsProcessor), as benchmarks/text.py needs
    prompt = torch.tensor([loaded.tokenizer.encode("She")])
    ids = loaded.model.generate(input_ids=prompt, max_new_tokens=9, min_new_tokens=4, eos_token_id=eos, do_sample=False)
    new = ids[0, prompt.shape[1] :].tolist()
    assert len(new) == 5 and eos not in new[:4] and new[4] == eos


def test_the_context_limits_prompt_and_completion(loaded):
    prompt = "The old man walked to the sea. " * 40 + "Finally the doctor"
    result = complete(loaded, prompt, GenerationSettings(max_new_tokens=500, seed=0, temperature=0))
    assert result.truncated and result.prompt_tokens_used + result.max_new_tokens <= loaded.context_length
    assert "limited to" in result.notice and result.full_text.startswith(prompt)


# --- the app's text tab ------------------------------------------------------------------------


def test_the_registry_and_the_text_tab_offer_the_lstm(trained):
    assert "text-lstm" in TEXT_MODELS and MODELS["text-lstm"][1] is load_text_model
    loader = ModelLoader(offline=True)
    models = {
        "text-gpt2-small": loader.load(ModelSpec("text-gpt2-small", "nobody/absent", trained[0] / "none"), len),
        "text-lstm": loader.load(ModelSpec("text-lstm", "nobody/absent", trained[0]), load_text_model),
    }
    tab = TextTab(models, update_interval_s=0)
    choices = tab.choices()
    assert choices["value"] == "text-lstm"  # the first available one
    label = f"{models['text-lstm'].model.name} ({models['text-lstm'].spec.shipped_label}, float32)"
    assert choices["choices"] == [(label, "text-lstm")]
    last = list(tab.complete_text("The old man", 12, 0.8, 50, 0.95, 1.1, 3, "text-lstm"))[-1]
    assert last[0].startswith("The old man") and "seed 3" in last[1] and "tokens/s" in last[1]
    assert list(tab.complete_text("The old man", 12, 0.8, 50, 0.95, 1.1, 3, None))[-1][0] == last[0]
    with pytest.raises(gr.Error, match="'text-gpt2-small' is not available; choose one of: text-lstm"):
        next(tab.complete_text("The old man", 12, 0.8, 50, 0.95, 1.1, 3, "text-gpt2-small"))
