"""Train a small GPT-2 from scratch on public-domain novels, or fine-tune a pretrained GPT-2 on some of them.

    python -m training.train_gpt                   # from scratch: BPE tokenizer + 6-layer GPT-2 (hours on a CPU)
    python -m training.train_gpt --resume --max-steps 6500 --average-from 4500   # then 2,000 steps more, averaged
    python -m training.train_gpt --tiny            # smoke test: tiny tokenizer and model, 20 steps
    python -m training.train_gpt --init-from openai-community/gpt2 --books 'hemingway_*' \\
        --val-book hemingway_the_sun_also_rises.txt --mixed-precision bf16 \\
        --out-dir weights/text-gpt2-hemingway --run-dir runs/text-gpt2-hemingway     # fine-tune, on a GPU
    accelerate launch -m training.train_gpt ...    # several GPUs

Every book is first prepared as prose (training/prepare_text.py): one line per paragraph, Gutenberg's
hard wrapping, headers and front matter gone, so that the model learns English rather than the files' layout.
tinyshakespeare.txt is left out (--exclude): a play in verse, whose line breaks are the text.

From scratch, a byte-level BPE tokenizer is trained on the training books, then a GPT-2 of the given size.
Fine-tuning keeps the pretrained model's own tokenizer. Either way the books (glob patterns in --data-dir,
quote them) are joined with <|endoftext|>, and two whole books are held out: --val-book (Kafka's novella) and
--val-book2, a second kind of text (Carroll's Alice, a children's fantasy), so that a score says how the model
does on prose rather than on one book. The validation loss is reported in nats per token and in bits per byte
(total nats / ln 2 / UTF-8 bytes of the prepared book), which does not depend on the tokenizer, so every model
here and OpenAI's GPT-2 can be compared on it.

Writes a Hub-layout folder (config.json, model.safetensors, tokenizer files, README.md model card) to
--out-dir, and the loss curve and a resumable checkpoint to --run-dir.
"""

from __future__ import annotations

import argparse
import copy
import math
import time
from pathlib import Path

import torch
from tqdm import tqdm
from transformers import (
    AutoConfig,
    AutoModelForCausalLM,
    AutoTokenizer,
    GenerationConfig,
    GPT2Config,
    GPT2LMHeadModel,
    PreTrainedModel,
)

from models.text import GenerationSettings, TextModel, complete
from training.books import (
    add_book_arguments,
    describe_data,
    encode_books,
    evaluate,
    random_windows,
    read_books,
    resolve_val_books,
    run_data,
    run_summary,
    train_tokenizer,
    validation_sets,
)
from training.common import command_line
from training.loop import TrainingRun, update

FILE_LIMIT_BYTES = 25 * 2**20  # the most a shipped file may weigh

# Defaults per mode; any flag given on the command line wins. --tiny applies on top of either mode.
FROM_SCRATCH = dict(
    vocab_size=8192, n_layer=6, n_head=5, n_embd=320, context=256, dropout=0.1,
    batch_size=16, lr=1e-3, warmup_steps=200, max_steps=4500, eval_every=500,
)  # fmt: skip
# Fine-tuning trains on windows as long as the model's context, unless --context says otherwise; 60 steps of
# 8 × 1024 tokens are about 4 passes over one novel (GPT-2 tokens), before it starts to learn the book by heart.
FINE_TUNE = dict(dropout=0.1, batch_size=8, lr=5e-5, warmup_steps=10, max_steps=60, eval_every=10)
TINY = dict(
    vocab_size=512, n_layer=2, n_head=2, n_embd=64, context=64,
    batch_size=8, warmup_steps=2, max_steps=20, eval_every=10,
)  # fmt: skip


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_book_arguments(parser)  # --data-dir, --books, --val-book, --val-book2, --exclude
    parser.add_argument("--init-from", metavar="REPO_OR_DIR", help="fine-tune this pretrained GPT-2 instead")
    parser.add_argument("--vocab-size", type=int, help="BPE vocabulary, from scratch (default 8192)")
    parser.add_argument("--n-layer", type=int, help="from scratch (default 6)")
    parser.add_argument("--n-head", type=int, help="from scratch (default 5)")
    parser.add_argument("--n-embd", type=int, help="width, from scratch (default 320)")
    parser.add_argument(
        "--context", type=int, help="tokens per training window (default 256; fine-tuning: the model's)"
    )
    parser.add_argument("--dropout", type=float)
    parser.add_argument("--batch-size", type=int, help="windows per step and per process")
    parser.add_argument("--lr", type=float, help="peak learning rate (default 1e-3; 5e-5 fine-tuning)")
    parser.add_argument("--warmup-steps", type=int)
    parser.add_argument("--weight-decay", type=float, default=0.1)
    parser.add_argument("--max-steps", type=int)
    parser.add_argument(
        "--lr-decay-steps",
        type=int,
        help="step at which the cosine reaches its floor, a tenth of --lr, kept after it (default --max-steps; as "
        "nanoGPT's lr_decay_iters: resuming a finished run with more --max-steps then goes on at the floor)",
    )
    parser.add_argument(
        "--average-from",
        type=int,
        metavar="STEP",
        help="from this step on, evaluate and export the mean of the weights after every step (SWA)",
    )
    parser.add_argument("--eval-every", type=int, help="steps between validations, samples and checkpoints")
    parser.add_argument("--sample-prompt", default="It was late in the evening when")
    # The flags every script shares, declared here: training.common.add_run_arguments would add --epochs (this script
    # counts steps) and fixed --batch-size and --lr defaults (here they depend on the mode, above).
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out-dir", type=Path, default=Path("weights/text-gpt2-small"), help="Hub-layout output")
    parser.add_argument("--run-dir", type=Path, default=Path("runs/text-gpt2-small"), help="checkpoint and plot")
    parser.add_argument("--resume", action="store_true", help="continue from <run-dir>/checkpoint.pt")
    parser.add_argument("--tiny", action="store_true", help="a tiny model and 20 steps: a smoke test")
    parser.add_argument("--mixed-precision", choices=["no", "fp16", "bf16"], default="no")
    parser.add_argument("--push-to-hub", metavar="REPO_ID", help="upload the output folder to this Hub repo")
    args = parser.parse_args(argv)
    args.command = command_line("training.train_gpt", argv)  # for the model card, as parse_run_arguments records it
    defaults = FINE_TUNE if args.init_from else FROM_SCRATCH
    if args.tiny:
        defaults = {**defaults, **TINY}
    for name, value in defaults.items():
        if getattr(args, name, None) is None:
            setattr(args, name, value)
    resolve_val_books(args)
    return args


# ----------------------------------------------------------------------------------------------
# Learning rate


def lr_factor(step: int, warmup_steps: int, decay_steps: int) -> float:
    """Linear warmup, then cosine decay to a tenth of the peak learning rate by `decay_steps`, and that tenth
    after it (as in nanoGPT)."""
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    progress = min(1.0, (step - warmup_steps) / max(1, decay_steps - warmup_steps))
    return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress))


# ----------------------------------------------------------------------------------------------
# Training


def main(argv: list[str] | None = None) -> dict[str, float]:
    args = parse_args(argv)
    run = TrainingRun(args, position="step")  # first: the seed below decides the initial weights too
    accelerator = run.accelerator
    train_paths, val_paths, train_texts, val_texts = read_books(args)

    # The run's tokenizer and model config live in <run-dir>/model, so that a resumed run uses the same ones.
    start_dir = args.run_dir / "model"
    resuming = args.resume and run.checkpoint_path.exists()
    if not resuming and accelerator.is_main_process:
        if args.init_from:
            AutoTokenizer.from_pretrained(args.init_from).save_pretrained(start_dir)
        else:
            train_tokenizer(train_texts, args.vocab_size, args.context).save_pretrained(start_dir)
    accelerator.wait_for_everyone()
    tokenizer = AutoTokenizer.from_pretrained(start_dir)

    if resuming:
        model = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(start_dir))
    elif args.init_from:
        model = AutoModelForCausalLM.from_pretrained(
            args.init_from, dtype=torch.float32, resid_pdrop=args.dropout, embd_pdrop=args.dropout,
            attn_pdrop=args.dropout,
        )  # fmt: skip
    else:
        config = GPT2Config(
            vocab_size=len(tokenizer), n_positions=args.context, n_embd=args.n_embd, n_layer=args.n_layer,
            n_head=args.n_head, resid_pdrop=args.dropout, embd_pdrop=args.dropout, attn_pdrop=args.dropout,
            bos_token_id=tokenizer.eos_token_id, eos_token_id=tokenizer.eos_token_id,
        )  # fmt: skip
        model = GPT2LMHeadModel(config)
    if accelerator.is_main_process:
        model.config.save_pretrained(start_dir)
    args.context = args.context or model.config.n_positions
    if args.context > model.config.n_positions:
        raise ValueError(f"--context {args.context} exceeds the model's {model.config.n_positions} positions")

    train_ids = encode_books(tokenizer, train_texts)
    val_sets = validation_sets(tokenizer, val_texts)  # (token ids, bytes) of each held-out book
    if len(train_ids) <= args.context:
        raise ValueError(f"only {len(train_ids)} training tokens: fewer than one --context window")
    described = "; ".join(
        f"{path.name}, {len(ids) - 1:,} tokens, {size:,} bytes" for path, (ids, size) in zip(val_paths, val_sets)
    )
    accelerator.print(
        f"{len(train_paths)} training books, {len(train_ids):,} tokens; validation {described}; "
        f"model {model.num_parameters() / 1e6:.2f}M parameters"
    )

    # Weight decay on matrices only, not on biases and layer norms (as in nanoGPT).
    parameters = [parameter for parameter in model.parameters() if parameter.requires_grad]
    optimizer = torch.optim.AdamW(
        [
            {"params": [p for p in parameters if p.dim() >= 2], "weight_decay": args.weight_decay},
            {"params": [p for p in parameters if p.dim() < 2], "weight_decay": 0.0},
        ],
        lr=args.lr,
        betas=(0.9, 0.95),
    )
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: lr_factor(step, args.warmup_steps, args.lr_decay_steps or args.max_steps)
    )
    run.track(model=model, optimizer=optimizer, scheduler=scheduler)
    start_step = run.resume()
    tokens_seen = run.saved.get("tokens_seen", 0)
    # Stochastic weight averaging (Izmailov et al., 2018): the equal mean of the weights after each step of a run's
    # last stretch, at a low learning rate, lies nearer the middle of the minimum than any one step, and generalises
    # better.
    averaged = None
    if args.average_from is not None:
        averaged = torch.optim.swa_utils.AveragedModel(model, device=accelerator.device)
        if "averaged" in run.saved:  # not in a checkpoint saved before averaging was asked for
            averaged.load_state_dict(run.saved.pop("averaged"))
        run.track(averaged=averaged)

    def current_model() -> PreTrainedModel:
        """The model evaluated, sampled and exported: the weight average once it has begun, else the trained one."""
        if averaged is not None and averaged.n_averaged > 0:
            return averaged.module
        return accelerator.unwrap_model(model)

    def evaluate_all() -> list[tuple[float, float]]:
        """(nats per token, bits per byte) on each validation book."""
        return [
            evaluate(current_model(), ids, size, args.context, args.batch_size, accelerator) for ids, size in val_sets
        ]

    history = run.history  # step, train, validation, bits_per_byte (and _2 for the second book), one per evaluation

    # The scheduler is stepped by hand once per step: accelerate's wrapper assumes a sharded data loader.
    model, optimizer = accelerator.prepare(model, optimizer)
    if len(val_sets) > 1 and history:  # the second validation book's curve ("_2"); an older run's history lacks it
        for key in ("validation_2", "bits_per_byte_2"):
            history.setdefault(key, [math.nan] * len(history["step"]))
    scores: list[tuple[float, float]] = []
    if args.init_from and not resuming:  # the pretrained model's score, to see what fine-tuning gained
        scores_before = evaluate_all()
        val_loss_before, bits_per_byte_before = scores_before[0]
        history["bits_per_byte_before"] = [bits_per_byte for _, bits_per_byte in scores_before]
        accelerator.print(
            f"before fine-tuning: validation {val_loss_before:.4f} nats/token, {bits_per_byte_before:.4f} bits/byte"
        )
    tokens_per_step = args.batch_size * args.context * accelerator.num_processes
    session_start, session_tokens = time.time(), 0
    running_loss, running_steps = 0.0, 0
    model.train()
    progress = tqdm(
        range(start_step, args.max_steps),
        initial=start_step,
        total=args.max_steps,
        disable=not run.is_main_process,
    )
    for step in progress:
        # Each process draws its own windows; the seed depends on the step, so a resumed run sees the same ones.
        batch_seed = hash((args.seed, step, accelerator.process_index)) % 2**63
        inputs = random_windows(train_ids, args.batch_size, args.context, batch_seed).to(accelerator.device)
        loss = model(input_ids=inputs, labels=inputs).loss  # the model shifts the labels itself
        update(optimizer, loss, accelerator, clip=1.0)
        scheduler.step()
        loss_value = loss.item()
        running_loss, running_steps = running_loss + loss_value, running_steps + 1
        tokens_seen, session_tokens = tokens_seen + tokens_per_step, session_tokens + tokens_per_step
        done = step + 1
        if averaged is not None and done > args.average_from:
            averaged.update_parameters(accelerator.unwrap_model(model))
        tokens_per_second = session_tokens / (time.time() - session_start)
        progress.set_postfix(
            loss=f"{loss_value:.3f}", lr=f"{scheduler.get_last_lr()[0]:.2e}", tok_s=f"{tokens_per_second:,.0f}"
        )

        if done % args.eval_every == 0 or done == args.max_steps:
            scores = evaluate_all()
            figures = {"step": done, "train": running_loss / running_steps}
            for suffix, (val_loss, bits_per_byte) in zip(["", "_2"], scores):
                figures |= {"validation" + suffix: val_loss, "bits_per_byte" + suffix: bits_per_byte}
            run.log(**figures)
            running_loss, running_steps = 0.0, 0
            if run.is_main_process:
                sample = sample_text(current_model(), tokenizer, args.sample_prompt)
                validations = ", ".join(
                    f"{path.stem.split('_')[0]} {loss:.4f} nats/token {bits:.4f} bits/byte"
                    for path, (loss, bits) in zip(val_paths, scores)
                )
                tqdm.write(
                    f"step {done}: train loss {history['train'][-1]:.4f}, validation {validations}, "
                    f"{tokens_seen:,} tokens seen, {tokens_per_second:,.0f} tokens/s\n  sample: {sample!r}"
                )
            curves = {"train": history["train"]}
            for suffix, path in zip(["", "_2"], val_paths):
                curves[f"validation ({path.stem})"] = history["validation" + suffix]
            plot = {"history": curves, "ylabel": "loss (nats per token)", "steps": history["step"], "xlabel": "step"}
            run.save(done, plot=plot, tokens_seen=tokens_seen)

    if not scores:  # resumed a finished run: just re-export
        scores = evaluate_all()
    metrics, results = {}, {}
    for prefix, suffix, (val_loss, bits_per_byte) in zip(["", "second "], ["", "_2"], scores):
        metrics[f"{prefix}validation loss (nats per token)"] = round(val_loss, 4)
        metrics[f"{prefix}validation bits per byte"] = round(bits_per_byte, 4)
        results.update({"val_loss" + suffix: val_loss, "bits_per_byte" + suffix: bits_per_byte})
    metrics["train loss (last interval)"] = round(history["train"][-1], 4) if history.get("train") else None
    for prefix, before in zip(["", "second "], history.get("bits_per_byte_before", [])):
        metrics[f"{prefix}validation bits per byte before fine-tuning"] = round(before, 4)
    if run.is_main_process:
        summary = run_summary(max(start_step, args.max_steps), tokens_seen, session_tokens, session_start)
        data = run_data(train_paths, val_paths, train_ids, val_sets)
        export(current_model(), tokenizer, run, metrics, summary, data)
    return results


def sample_text(model, tokenizer, prompt: str) -> str:
    """A short seeded completion of `prompt`, to see what the model writes."""
    model.eval()
    settings = GenerationSettings(max_new_tokens=40, seed=0)
    completion = complete(TextModel(model, tokenizer, "training"), prompt, settings)
    model.train()
    return completion.full_text


# ----------------------------------------------------------------------------------------------
# Export


def save_model(model, folder: Path) -> str:
    """save_pretrained in float32, or in float16 where float32 would exceed the file limit; returns the dtype.

    Works for the LSTM too; load_text_model builds either in float32 and upcasts float16 weights."""
    if 4 * sum(parameter.numel() for parameter in model.parameters()) <= FILE_LIMIT_BYTES:
        model.save_pretrained(folder)
        return "float32"
    half = copy.deepcopy(model).half()
    if isinstance(half, PreTrainedModel):  # GPT-2 small's size needs shards to stay under the limit
        half.save_pretrained(folder, max_shard_size=FILE_LIMIT_BYTES - 2**20)
    else:
        half.save_pretrained(folder)
    return "float16"


def export(model, tokenizer, run: TrainingRun, metrics: dict, summary: dict, data: dict) -> None:
    """Write the Hub-layout folder with its model card, and push it if asked."""
    args = run.args
    args.out_dir.mkdir(parents=True, exist_ok=True)
    model.eval()
    model.generation_config = GenerationConfig(
        bos_token_id=tokenizer.eos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.eos_token_id,
        do_sample=True,
        temperature=0.8,
        top_k=50,
        max_new_tokens=100,
    )
    stored_dtype = save_model(model, args.out_dir)
    tokenizer.save_pretrained(args.out_dir)
    config = model.config
    millions = model.num_parameters() / 1e6
    train_names = [path.name for path in data["train"]]
    if args.init_from:
        title = f"{args.init_from} fine-tuned on {', '.join(args.books)}"
        source = args.init_from if Path(args.init_from).exists() else f"https://huggingface.co/{args.init_from}"
        description = (
            f"[{args.init_from}]({source}) ({millions:.0f}M parameters) fine-tuned "
            f"on {len(train_names)} public-domain books with its own tokenizer, on windows of {args.context} tokens."
        )
        tags = ["gpt2", "text-generation", "fine-tuned", "generative-models-suite"]
    else:
        title = f"Small GPT-2 ({millions:.1f}M parameters) trained from scratch on public-domain novels"
        description = (
            f"A GPT-2 ({config.n_layer} layers, {config.n_head} heads, {config.n_embd} wide, "
            f"{config.n_positions}-token context, {millions:.1f}M parameters) trained from scratch with a "
            f"byte-level BPE tokenizer of {len(tokenizer)} tokens, itself trained on the training books."
        )
        tags = ["gpt2", "text-generation", "from-scratch", "generative-models-suite"]
    description += (
        " Bits per byte = total validation nats / ln 2 / UTF-8 bytes of the validation book: unlike the loss per "
        "token, it does not depend on the tokenizer."
    )
    oversized = [path.name for path in args.out_dir.iterdir() if path.stat().st_size > FILE_LIMIT_BYTES]
    if oversized:
        print(f"Note: {', '.join(oversized)} exceed {FILE_LIMIT_BYTES // 2**20} MiB: push to the Hub, do not ship.")
    run.publish(
        args.out_dir,
        f"{title}: {metrics}",
        library_name="transformers",
        title=title,
        description=description,
        license="mit",
        tags=tags,
        data=describe_data(
            data["train"], data["train_tokens"], data["validation"], data["val_bytes"], args.exclude, args.data_dir
        ),
        training={
            "mode": f"fine-tuned from {args.init_from}" if args.init_from else "from scratch",
            "steps": summary["steps"],
            "batch": f"{args.batch_size} windows × {args.context} tokens per process",
            "tokens seen": summary["tokens seen"],
            "optimizer": f"AdamW, peak lr {args.lr}, {args.warmup_steps} warmup steps, cosine to lr/10 at step "
            f"{args.lr_decay_steps or args.max_steps}, weight decay {args.weight_decay}, gradient clip 1.0",
            "dropout": args.dropout,
            "weight averaging": "none"
            if args.average_from is None
            else f"the mean of the weights after each step from step {args.average_from} on (SWA)",
            "weights stored as": stored_dtype,
            "throughput": summary["throughput"],
        },
        metrics=metrics,
        usage=(
            "from transformers import pipeline\n"
            f'generate = pipeline("text-generation", model="{args.push_to_hub or args.out_dir}")\n'
            f'print(generate("{args.sample_prompt}", max_new_tokens=60, do_sample=True)[0]["generated_text"])'
        ),
    )


if __name__ == "__main__":
    main()
