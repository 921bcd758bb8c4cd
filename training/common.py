"""What every training script shares: checkpoints, loss plots, model cards and Hub upload."""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import sys
import time
from pathlib import Path
from typing import Any

import torch

DATA_ROOT = Path(os.environ.get("SUITE_DATA_DIR", "../shared/data"))
CACHE_ROOT = Path(os.environ.get("SUITE_CACHE_DIR", Path.home() / ".cache" / "generative-suite"))


def command_line(module: str, argv: list[str] | None) -> str:
    """The command that started this run, to record in the model card."""
    arguments = sys.argv[1:] if argv is None else argv
    return " ".join(shlex.quote(part) for part in ["python", "-m", module, *arguments])


def add_run_arguments(
    parser: argparse.ArgumentParser, *, name: str | None, epochs: int, batch_size: int, lr: float, tiny: str
) -> None:
    """The flags every training script shares; `name` gives the default weights/<name> and runs/<name>."""
    parser.add_argument("--epochs", type=int, help=f"default {epochs}, or 1 with --tiny")
    parser.add_argument("--batch-size", type=int, default=batch_size)
    parser.add_argument("--lr", type=float, default=lr)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--out-dir", type=Path, default=name and Path("weights") / name, help="Hub-layout output folder"
    )
    parser.add_argument("--run-dir", type=Path, default=name and Path("runs") / name, help="checkpoints and figures")
    parser.add_argument("--resume", action="store_true", help="continue from <run-dir>/checkpoint.pt")
    parser.add_argument("--tiny", action="store_true", help=f"{tiny} and 1 epoch: a smoke test")
    parser.add_argument("--mixed-precision", choices=["no", "fp16", "bf16"], default="no")
    parser.add_argument("--push-to-hub", metavar="REPO_ID", help="upload the output folder to this Hub repo")
    parser.set_defaults(default_epochs=epochs)


def parse_run_arguments(parser: argparse.ArgumentParser, argv: list[str] | None, module: str) -> argparse.Namespace:
    """Parse, record the command for the model card, and resolve --epochs (1 in tiny mode)."""
    args = parser.parse_args(argv)
    args.command = command_line(module, argv)
    args.epochs = args.epochs or (1 if args.tiny else args.default_epochs)
    return args


def describe_device(device: torch.device) -> str:
    if device.type == "cuda":
        return f"{torch.cuda.device_count()}× {torch.cuda.get_device_name(device)}"
    threads = torch.get_num_threads()
    return f"CPU ({platform.processor() or platform.machine()}, {threads} thread{'s' if threads > 1 else ''})"


def save_checkpoint(path: Path, **state: Any) -> None:
    """Save tensors, state dicts and plain values; written to a temp file first, then renamed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    torch.save(state, partial)
    partial.replace(path)


def load_checkpoint(path: Path) -> dict[str, Any]:
    # weights_only=True: the safe unpickler, which only rebuilds tensors and plain containers.
    return torch.load(path, map_location="cpu", weights_only=True)


def plot_losses(
    history: dict[str, list[float]],
    path: Path,
    ylabel: str = "loss",
    steps: list[int] | None = None,
    xlabel: str = "epoch",
) -> None:
    """One line per series in `history`, against `steps` (default 1, 2, 3, ... epochs)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(6, 4))
    for name, values in history.items():
        axis.plot(steps or range(1, len(values) + 1), values, label=name)
    axis.set_xlabel(xlabel)
    axis.set_ylabel(ylabel)
    axis.legend()
    axis.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def write_model_card(
    folder: Path,
    *,
    title: str,
    description: str,
    license: str,
    tags: list[str],
    data: str,
    command: str,
    training: dict[str, Any],
    metrics: dict[str, Any],
    usage: str,
    library_name: str = "pytorch",
) -> None:
    """Write README.md (the Hub model card) with how the model was trained and how well it did."""
    front_matter = "\n".join(
        ["---", f"license: {license}", f"library_name: {library_name}", "tags:"]
        + [f"- {tag}" for tag in tags]
        + ["---"]
    )
    training_rows = "\n".join(f"| {key} | {value} |" for key, value in training.items())
    metric_rows = "\n".join(f"| {key} | {value} |" for key, value in metrics.items())
    card = f"""{front_matter}

# {title}

{description}

## Data

{data}

## Training

```bash
{command}
```

| setting | value |
| --- | --- |
{training_rows}

## Results

| metric | value |
| --- | --- |
{metric_rows}

## Use

```python
{usage}
```
"""
    (folder / "README.md").write_text(card, encoding="utf-8")
    (folder / "training_metrics.json").write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")


def push_to_hub(folder: Path, repo_id: str, commit_message: str) -> str:
    """Upload a saved model folder to a Hub model repo (created if needed); returns the commit URL."""
    from huggingface_hub import HfApi

    api = HfApi()
    api.create_repo(repo_id, repo_type="model", exist_ok=True)
    info = api.upload_folder(folder_path=folder, repo_id=repo_id, commit_message=commit_message)
    return str(info)


class Timer:
    """Wall time of a run, accumulated across resumed sessions."""

    def __init__(self, already_spent: float = 0.0):
        self.start = time.time() - already_spent

    @property
    def seconds(self) -> float:
        return time.time() - self.start


def format_duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m {secs:02d}s" if hours else f"{minutes}m {secs:02d}s"
