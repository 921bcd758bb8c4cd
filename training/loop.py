"""`TrainingRun`: what every training script does around its own model maths.

    run = TrainingRun(args)              # the accelerator, and torch seeded from --seed
    generator, optimizer_g = ...         # built after the seed
    run.track(generator=generator, optimizer_g=optimizer_g)   # the states a checkpoint holds
    start = run.resume()                 # the epoch (or step) already done: 0, or the checkpoint's
    ... accelerator.prepare(...)         # the script's own
    for epoch in range(start + 1, args.epochs + 1):
        ...                              # the script's own train_step and evaluation
        run.log(generator=loss_g, ...)   # one value per series: the history and the loss plot
        run.save(epoch)                  # atomic checkpoint: every state, the RNG, history, wall time
    run.publish(folder, card)            # model card, training_metrics.json, push to the Hub if asked

It owns the accelerator and the seed, resuming exactly (model, optimizer and scheduler states, the torch RNG,
the history and the wall time spent so far), the checkpoint written once per epoch (or evaluation) by the main
process, the loss plot, and the export tail. A script's checkpoint keys are the names it gives its states, plus
the position ("epoch" or "step"), "history", "seconds" and "rng", and any extra values it saves.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch
from accelerate import Accelerator
from accelerate.utils import set_seed

from training.common import (
    Timer,
    describe_device,
    format_duration,
    load_checkpoint,
    plot_losses,
    push_to_hub,
    save_checkpoint,
    write_model_card,
)


def update(optimizer: torch.optim.Optimizer, loss: torch.Tensor, accelerator: Accelerator, clip: float = 0.0) -> None:
    """One step of `optimizer` down `loss`: clear the gradients, backpropagate (through accelerate, for mixed
    precision and several processes), clip the gradients' norm to `clip` if it is set, step."""
    optimizer.zero_grad(set_to_none=True)
    accelerator.backward(loss)
    if clip:
        accelerator.clip_grad_norm_([p for group in optimizer.param_groups for p in group["params"]], clip)
    optimizer.step()


def average_figures(batches: Iterable[tuple[int, dict[str, Any]]], accelerator: Accelerator) -> dict[str, float]:
    """Each figure's mean over every image of every process, from (images in a batch, the batch's mean figures)."""
    totals: dict[str, torch.Tensor] = {}
    count = torch.zeros((), device=accelerator.device)
    for size, figures in batches:
        for name, value in figures.items():
            totals[name] = totals.get(name, torch.zeros((), device=accelerator.device)) + value * size
        count += size
    count = accelerator.reduce(count, "sum")
    return {name: float(accelerator.reduce(total, "sum") / count) for name, total in totals.items()}


class TrainingRun:
    """The bookkeeping of one training run (see the module's docstring).

    `states`: name -> an object with `state_dict()` and `load_state_dict()` (models, optimizers, schedulers,
    image pools), saved under that name in each checkpoint and restored on resume.
    """

    def __init__(self, args: argparse.Namespace, position: str = "epoch", **states: Any):
        self.args, self.position, self.states = args, position, states
        self.accelerator = Accelerator(mixed_precision=args.mixed_precision)
        set_seed(args.seed)
        args.run_dir.mkdir(parents=True, exist_ok=True)
        self.checkpoint_path = args.run_dir / "checkpoint.pt"
        self.history: dict[str, list[float]] = {}
        self.saved: dict[str, Any] = {}  # the extra values of the checkpoint resumed from
        self.timer = Timer()

    def track(self, **states: Any) -> None:
        """Add states to those every checkpoint holds: for models built after the run, so under its seed."""
        self.states.update(states)

    @property
    def is_main_process(self) -> bool:
        return self.accelerator.is_main_process

    @property
    def device_description(self) -> str:
        return describe_device(self.accelerator.device)

    @property
    def wall_time(self) -> str:
        return format_duration(self.timer.seconds)

    def resume(self) -> int:
        """With --resume and a checkpoint in --run-dir, restore it and return its epoch (or step); else 0."""
        if not (self.args.resume and self.checkpoint_path.exists()):
            return 0
        checkpoint = load_checkpoint(self.checkpoint_path)
        for name, state in self.states.items():
            state.load_state_dict(checkpoint.pop(name))
        torch.set_rng_state(checkpoint.pop("rng"))
        self.history = checkpoint.pop("history")
        self.timer = Timer(already_spent=checkpoint.pop("seconds"))
        done = checkpoint.pop(self.position)
        self.saved = checkpoint
        self.accelerator.print(f"Resumed from {self.checkpoint_path} after {self.position} {done}")
        return done

    def log(self, **figures: float) -> None:
        """Append one value to each named series of the history."""
        for name, value in figures.items():
            self.history.setdefault(name, []).append(value)

    def save(self, done: int, plot: dict[str, Any] | None = None, **extra: Any) -> None:
        """Write the checkpoint after epoch (or step) `done`, with `extra` values; and the loss plot.

        `plot`: keyword arguments of `plot_losses` (`history` defaults to the whole history).
        Only the main process writes.
        """
        if not self.is_main_process:
            return
        plot = {"history": self.history, **(plot or {})}
        plot_losses(path=self.args.run_dir / "loss.png", **plot)
        save_checkpoint(
            self.checkpoint_path,
            **{name: state.state_dict() for name, state in self.states.items()},
            **{self.position: done},
            history=self.history,
            seconds=self.timer.seconds,
            rng=torch.get_rng_state(),
            **extra,
        )

    def publish(self, folder: Path, summary: str, training: dict[str, Any], **card: Any) -> None:
        """Write the model card (see `write_model_card`) into the saved model folder, and push it if asked.

        The rows every card has (seed, mixed precision, device, wall time) follow the script's `training` rows.
        """
        standard = {
            "seed": self.args.seed,
            "mixed precision": self.args.mixed_precision,
            "device": self.device_description,
            "wall time": self.wall_time,
        }
        write_model_card(folder, command=self.args.command, training={**training, **standard}, **card)
        print(f"Saved {folder}")
        if self.args.push_to_hub:
            print(push_to_hub(folder, self.args.push_to_hub, summary))
