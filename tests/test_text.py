"""GPT-2 text completion: tokenizer, tiny training end to end, loading and streamed generation.

All on small texts the tests write themselves; the model is the tiny one the training script makes.
"""

from __future__ import annotations

import json
import math
import random
import shutil
import threading

import pytest
import torch
from tokenizers import ByteLevelBPETokenizer
from transformers import AutoModelForCausalLM, AutoTokenizer, GPT2Config, GPT2LMHeadModel

from models.loading import ModelLoader, ModelSpec
from models.text import (
    MAX_NEW_TOKENS,
    GenerationSettings,
    clean_prompt,
    complete,
    load_text_model,
    stream_completion,
)
from training import train_gpt

UNUSUAL_TEXT = "Café naïve — “quoted”  two  spaces\n\ttab, emoji 😀 and a family 👩‍👩‍👧 , done ."


def write_book(path, seed: int, sentences: int = 600) -> None:
    """Plain English-like prose from a small grammar: enough structure for a tiny model to learn a little."""
    rng = random.Random(seed)
    subjects = ["The old man", "She", "The captain", "His sister", "A small dog", "Nobody", "The doctor"]
    verbs = ["walked to", "looked at", "thought about", "wrote to", "laughed at", "waited for"]
    objects = ["the sea", "the house", "his friend", "the letter", "the garden", "the night", "her mother"]
    endings = [".", ".", "!", "?", ", and then it rained."]
    lines = []
    for number in range(sentences):
        lines.append(f"{rng.choice(subjects)} {rng.choice(verbs)} {rng.choice(objects)}{rng.choice(endings)}")
        if number % 8 == 7:
            lines.append("\n")
    path.write_text(" ".join(lines), encoding="utf-8")


@pytest.fixture(scope="module")
def books(tmp_path_factory):
    folder = tmp_path_factory.mktemp("books")
    for seed, name in enumerate(["book_one.txt", "book_two.txt", "held_out.txt"]):
        write_book(folder / name, seed)
    return folder


@pytest.fixture(scope="module")
def trained(books, tmp_path_factory):
    """The tiny from-scratch run: (output folder, run folder, returned metrics, arguments)."""
    root = tmp_path_factory.mktemp("run")
    args = ["--tiny", "--data-dir", str(books), "--val-book", "held_out.txt"]
    args += ["--out-dir", str(root / "out"), "--run-dir", str(root / "run")]
    metrics = train_gpt.main(args)
    return root / "out", root / "run", metrics, args


@pytest.fixture(scope="module")
def loaded(trained):
    return load_text_model(trained[0])


# --- tokenizer ---------------------------------------------------------------------------------


def test_tokenizer_trains_saves_and_round_trips(tmp_path, books):
    tokenizer = train_gpt.train_tokenizer([books / "book_one.txt"], vocab_size=300, context=64)
    tokenizer.save_pretrained(tmp_path)
    reloaded = AutoTokenizer.from_pretrained(tmp_path)

    assert len(reloaded) <= 300 and reloaded.model_max_length == 64
    assert reloaded.eos_token == "<|endoftext|>"
    assert reloaded.encode("<|endoftext|>", add_special_tokens=False) == [reloaded.eos_token_id]
    for text in [UNUSUAL_TEXT, "The old man walked to the sea.", " leading space", "x" * 500]:
        ids = reloaded.encode(text, add_special_tokens=False)
        assert reloaded.decode(ids) == text
    # learned merges: a common word of the books is one token, not one per byte
    assert len(reloaded.encode(" the", add_special_tokens=False)) == 1


# --- training ----------------------------------------------------------------------------------


def test_tiny_training_writes_a_loadable_folder_with_bits_per_byte(trained):
    out, run, metrics, _ = trained
    for name in ["config.json", "model.safetensors", "tokenizer.json", "generation_config.json", "README.md"]:
        assert (out / name).exists(), name
    assert all(path.stat().st_size <= train_gpt.FILE_LIMIT_BYTES for path in out.iterdir())
    assert (run / "loss.png").exists()

    card = (out / "README.md").read_text(encoding="utf-8")
    assert "bits per byte" in card and "--tiny" in card and "tokens seen" in card and "wall time" in card
    assert "book_one.txt, book_two.txt" in card and "held_out.txt" in card and "public domain" in card
    recorded = json.loads((out / "training_metrics.json").read_text())
    assert recorded["validation bits per byte"] == pytest.approx(metrics["bits_per_byte"], abs=1e-4)
    # A random 512-token model scores ln(512) nats per token (about 2 bytes each here): 20 steps must beat it.
    assert 0 < metrics["bits_per_byte"] < math.log2(512)
    assert metrics["val_loss"] < math.log(512)

    model = AutoModelForCausalLM.from_pretrained(out)  # plain transformers loads it too
    assert model.config.n_layer == 2 and model.config.n_positions == 64


def test_resume_continues_from_the_checkpoint(trained, tmp_path):
    _, run, metrics, args = trained
    shutil.copytree(run, tmp_path / "run")
    args = [*args[:-4], "--out-dir", str(tmp_path / "out"), "--run-dir", str(tmp_path / "run")]
    resumed = train_gpt.main([*args, "--resume", "--max-steps", "30"])

    checkpoint = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)
    assert checkpoint["step"] == 30 and checkpoint["history"]["step"] == [10, 20, 30]
    assert checkpoint["tokens_seen"] == 30 * 8 * 64
    assert resumed["val_loss"] < metrics["val_loss"]


def test_weight_averaging_exports_the_mean_of_the_steps_and_resumes(trained, tmp_path):
    _, run, _, args = trained
    shutil.copytree(run, tmp_path / "run")
    args = [*args[:-4], "--out-dir", str(tmp_path / "out"), "--run-dir", str(tmp_path / "run"), "--resume"]
    for last_step in (25, 30):  # resumes a checkpoint saved before averaging began, then one saved with it
        train_gpt.main([*args, "--max-steps", str(last_step), "--eval-every", "5", "--average-from", "20"])

    checkpoint = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)
    assert checkpoint["averaged"]["n_averaged"] == 10  # steps 21-30: the average went on across the resume
    exported = AutoModelForCausalLM.from_pretrained(tmp_path / "out").lm_head.weight
    assert torch.equal(exported, checkpoint["averaged"]["module.lm_head.weight"])
    assert not torch.equal(exported, checkpoint["model"]["lm_head.weight"])  # not the last step's weights
    assert "the mean of the weights after each step from step 20 on" in (tmp_path / "out" / "README.md").read_text()


def test_the_learning_rate_warms_up_decays_and_stays_at_its_floor():
    factors = [train_gpt.lr_factor(step, warmup_steps=10, decay_steps=110) for step in range(200)]
    assert factors[0] == pytest.approx(0.1) and factors[9] == pytest.approx(1.0)
    assert all(later < earlier for earlier, later in zip(factors[10:110], factors[11:111]))
    assert factors[110:] == pytest.approx([0.1] * 90)  # after --lr-decay-steps: the floor, a tenth of the peak


def test_fine_tune_mode_starts_from_a_pretrained_folder(trained, books, tmp_path):
    out = trained[0]
    args = ["--init-from", str(out), "--books", "book_two*", "--data-dir", str(books), "--val-book", "held_out.txt"]
    args += ["--tiny", "--max-steps", "4", "--eval-every", "2", "--out-dir", str(tmp_path / "out")]
    train_gpt.main([*args, "--run-dir", str(tmp_path / "run")])

    fine_tuned = load_text_model(tmp_path / "out")
    assert "fine-tuned" in fine_tuned.name
    card = (tmp_path / "out" / "README.md").read_text(encoding="utf-8")
    assert "book_two.txt" in card and "book_one.txt" not in card
    metrics = json.loads((tmp_path / "out" / "training_metrics.json").read_text())
    assert metrics["validation bits per byte before fine-tuning"] > 0  # the starting point, for comparison
    original = AutoTokenizer.from_pretrained(out)
    assert fine_tuned.tokenizer.get_vocab() == original.get_vocab()  # the model's own tokenizer, not a new one


# --- loading -----------------------------------------------------------------------------------


def test_loads_our_model_for_cpu_inference(loaded):
    assert loaded.model.dtype == torch.float32 and not loaded.model.training
    assert loaded.name.startswith("Small GPT-2")
    assert loaded.context_length == 64 and loaded.parameter_count > 0


def test_the_app_loader_uses_it_on_the_shipped_folder(trained):
    spec = ModelSpec(name="text-gpt2-small", repo_id="nobody/absent", shipped_dir=trained[0])
    result = ModelLoader(offline=True).load(spec, load_text_model)
    assert result.available and result.origin == "shipped"
    assert result.model.context_length == 64


def test_loads_an_openai_style_folder_stored_in_float16(tmp_path, books):
    """OpenAI's layout: vocab.json + merges.txt (no tokenizer.json), GPT-2 config, weights in half precision."""
    bpe = ByteLevelBPETokenizer()
    bpe.train([str(books / "book_one.txt")], vocab_size=300, special_tokens=["<|endoftext|>"], show_progress=False)
    bpe.save_model(str(tmp_path))
    eos = bpe.token_to_id("<|endoftext|>")
    config = GPT2Config(vocab_size=300, n_positions=32, n_embd=32, n_layer=1, n_head=2, bos_token_id=eos)
    config.eos_token_id = eos
    GPT2LMHeadModel(config).half().save_pretrained(tmp_path)
    assert json.loads((tmp_path / "config.json").read_text())["dtype"] == "float16"

    gpt2 = load_text_model(tmp_path)
    assert gpt2.model.dtype == torch.float32
    assert gpt2.tokenizer.decode(gpt2.tokenizer.encode(UNUSUAL_TEXT)) == UNUSUAL_TEXT
    assert gpt2.context_length == 32
    assert gpt2.name  # no model card: described from the config
    result = complete(gpt2, "The sea", GenerationSettings(max_new_tokens=5, seed=0))
    assert result.finished and result.new_tokens <= 5


def test_a_folder_without_a_model_fails_loudly(tmp_path, trained):
    with pytest.raises(FileNotFoundError, match="config.json"):
        load_text_model(tmp_path)
    shutil.copy(trained[0] / "config.json", tmp_path)  # a config but no weights
    with pytest.raises(OSError):
        load_text_model(tmp_path)


# --- generation --------------------------------------------------------------------------------


def test_seeded_generation_is_reproducible(loaded):
    settings = GenerationSettings(max_new_tokens=30, temperature=1.0, seed=7)
    first = complete(loaded, "The old man", settings)
    again = complete(loaded, "The old man", settings)
    other = complete(loaded, "The old man", GenerationSettings(max_new_tokens=30, temperature=1.0, seed=8))
    assert first.text == again.text and first.seed == 7
    assert other.text != first.text
    assert first.new_tokens > 0 and first.tokens_per_second > 0


def test_a_drawn_seed_is_reported_and_reproduces_the_text(loaded):
    drawn = complete(loaded, "She", GenerationSettings(max_new_tokens=20, seed=None))
    replayed = complete(loaded, "She", GenerationSettings(max_new_tokens=20, seed=drawn.seed))
    assert replayed.text == drawn.text


def test_greedy_decoding_is_deterministic(loaded):
    settings = GenerationSettings(max_new_tokens=20, temperature=0, seed=None)
    assert complete(loaded, "The captain", settings).text == complete(loaded, "The captain", settings).text


def test_stream_yields_growing_partial_texts_then_finishes(loaded):
    settings = GenerationSettings(max_new_tokens=40, seed=1)
    parts = list(stream_completion(loaded, "The doctor", settings, update_interval_s=0))  # every token
    assert len(parts) >= 4
    for before, after in zip(parts, parts[1:]):
        assert after.text.startswith(before.text) and len(after.text) >= len(before.text)
    assert len({part.text for part in parts}) >= 3
    assert [part.finished for part in parts] == [False] * (len(parts) - 1) + [True]
    last = parts[-1]
    assert last.stop_reason in ("length", "end of text") and 0 < last.new_tokens <= 40
    assert last.full_text == "The doctor" + last.text and not last.truncated
    assert "tokens/s" in last.status and "seed 1" in last.status


def test_stop_event_stops_generation_early(loaded, monkeypatch):
    stop = threading.Event()
    forward = loaded.model.forward
    calls = []

    def forward_then_press_stop(*args, **kwargs):  # the user presses Stop while the 5th token is computed
        calls.append(1)
        if len(calls) == 5:
            stop.set()
        return forward(*args, **kwargs)

    monkeypatch.setattr(loaded.model, "forward", forward_then_press_stop)
    settings = GenerationSettings(max_new_tokens=60, seed=2)
    parts = list(stream_completion(loaded, "Nobody", settings, stop_event=stop))
    assert parts[-1].finished and parts[-1].stop_reason == "stopped"
    assert parts[-1].new_tokens == 5 and len(calls) == 5
    monkeypatch.undo()

    unstopped = complete(loaded, "Nobody", settings)
    assert unstopped.new_tokens > 5 and unstopped.text.startswith(parts[-1].text)

    stop_before = threading.Event()
    stop_before.set()
    result = complete(loaded, "Nobody", settings, stop_event=stop_before)
    assert result.stop_reason == "stopped" and result.new_tokens == 1  # only the token in progress


def test_an_abandoned_stream_lets_the_next_one_run(loaded):
    stream = stream_completion(loaded, "She", GenerationSettings(max_new_tokens=60, seed=3))
    next(stream)
    stream.close()  # e.g. the browser tab closed: generation stops and releases the model
    assert complete(loaded, "She", GenerationSettings(max_new_tokens=5, seed=3)).finished


def test_a_long_prompt_keeps_its_end_and_says_so(loaded, monkeypatch):
    seen = {}
    generate = loaded.model.generate

    def spy(**kwargs):
        seen["input_ids"] = kwargs["input_ids"]
        return generate(**kwargs)

    monkeypatch.setattr(loaded.model, "generate", spy)
    prompt = "The old man walked to the sea. " * 40 + "Finally the doctor"
    result = complete(loaded, prompt, GenerationSettings(max_new_tokens=10, seed=0))

    assert result.truncated and result.prompt_tokens > loaded.context_length
    assert result.prompt_tokens_used == loaded.context_length - 10 == seen["input_ids"].shape[1]
    assert loaded.tokenizer.decode(seen["input_ids"][0]).endswith("Finally the doctor")
    assert f"only its last {result.prompt_tokens_used} tokens" in result.notice
    assert result.full_text.startswith(prompt)  # the page still shows the whole prompt


def test_the_context_limits_a_long_completion(loaded):
    result = complete(loaded, "She", GenerationSettings(max_new_tokens=MAX_NEW_TOKENS, seed=0, temperature=0))
    assert result.max_new_tokens < MAX_NEW_TOKENS and result.new_tokens <= result.max_new_tokens
    assert "limited to" in result.notice


@pytest.mark.parametrize("prompt", ["", "   \n\t ", "\x00\x07\x1b"])
def test_an_empty_prompt_is_a_clear_error(loaded, prompt):
    with pytest.raises(ValueError, match="empty"):
        next(stream_completion(loaded, prompt))


def test_control_characters_are_stripped_and_emoji_kept(loaded):
    assert clean_prompt("a\x00b\x1b[1mc\r\nd\re\tf\x7f\x85 😀👩‍👩‍👧") == "ab[1mc\nd\ne\tf 😀👩‍👩‍👧"
    with pytest.raises(ValueError):
        clean_prompt(None)
    result = complete(loaded, "Her mother\x00 😀", GenerationSettings(max_new_tokens=5, seed=0))
    assert result.prompt == "Her mother 😀"


def test_generation_errors_reach_the_caller(loaded, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("out of memory")

    monkeypatch.setattr(loaded.model, "generate", broken)
    with pytest.raises(RuntimeError, match="out of memory"):
        complete(loaded, "She", GenerationSettings(max_new_tokens=5))


# --- settings ----------------------------------------------------------------------------------


def test_settings_are_clamped_into_sane_ranges():
    absurd = GenerationSettings(
        max_new_tokens=10**9, temperature=-3, top_k=-5, top_p=7, repetition_penalty=0, seed=-1
    ).clamped()
    assert absurd == GenerationSettings(
        max_new_tokens=MAX_NEW_TOKENS, temperature=0.0, top_k=0, top_p=1.0, repetition_penalty=1.0, seed=2**31 - 1
    )
    huge = GenerationSettings(max_new_tokens=0, temperature=math.inf, top_k=1e12, top_p=0, seed=2**40).clamped()
    assert huge.max_new_tokens == 1 and huge.temperature == 2.0 and huge.top_k == 1000 and huge.top_p == 0.01
    assert 0 <= huge.seed <= 2**31 - 1
    fractional = GenerationSettings(max_new_tokens=12.6, top_k="40", seed=3.9).clamped()
    assert (fractional.max_new_tokens, fractional.top_k, fractional.seed) == (13, 40, 3)
    assert GenerationSettings(seed=None).clamped().seed is None
    assert GenerationSettings().clamped() == GenerationSettings()


@pytest.mark.parametrize(
    "field, value", [("temperature", math.nan), ("top_p", "abc"), ("max_new_tokens", None), ("seed", math.inf)]
)
def test_settings_that_are_not_numbers_are_a_clear_error(field, value):
    with pytest.raises(ValueError, match=field):
        GenerationSettings(**{field: value}).clamped()
