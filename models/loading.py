"""One way to load every model of the suite: from the Hub when it answers, else from `weights/`.

`ModelLoader.load(spec, load_fn)` resolves a folder in Hub layout, then calls `load_fn(folder)`
(usually a `from_pretrained`). The folder is, in order of preference:

1. the Hub repo at the requested revision (downloaded or refreshed into the HF cache),
2. the same repo already in the local HF cache, when the Hub cannot be reached,
3. the copy shipped with the app in `weights/<name>/`.

With no network, huggingface_hub retries for about 20 s per file. Here a first question to the
Hub (does this repo and revision exist?) gets a hard deadline instead, and once the Hub has failed
to answer, later models skip it altogether; only when it answers is the repo downloaded.
A model whose folder is missing or corrupt comes back with `model=None` and a message, so the
app can disable that tab and still start.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from huggingface_hub import constants, model_info, snapshot_download
from huggingface_hub.errors import (
    GatedRepoError,
    HFValidationError,
    LocalEntryNotFoundError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)

HUB_FILE_PATTERNS = ["*.json", "*.safetensors", "*.md", "*.txt"]


@dataclass(frozen=True)
class ModelSpec:
    """Where one model lives: its Hub repo (and optional pinned revision) and its shipped folder."""

    name: str
    repo_id: str
    shipped_dir: Path
    revision: str | None = None

    @property
    def shipped_label(self) -> str:
        """The shipped folder as the page shows it, e.g. "weights/digits-vae"."""
        return f"{self.shipped_dir.parent.name}/{self.shipped_dir.name}"

    @property
    def hub_label(self) -> str:
        return f"{self.repo_id}@{self.revision}" if self.revision else self.repo_id


def _set_event() -> threading.Event:
    event = threading.Event()
    event.set()
    return event


@dataclass
class LoadedModel:
    spec: ModelSpec
    model: Any | None
    origin: str  # "hub", "hub-cache", "shipped", "unavailable", or "loading" (see ModelLoader.load_later)
    folder: Path | None
    message: str  # one line for the page: where the weights came from, and why
    ready: threading.Event = field(default_factory=_set_event, repr=False, compare=False)
    load_later: Callable[[], LoadedModel] | None = field(default=None, repr=False, compare=False)

    @property
    def available(self) -> bool:
        return self.model is not None

    @property
    def revision(self) -> str | None:
        """The Hub commit the weights came from (the snapshot folder's name), or None for shipped weights."""
        return self.folder.name if self.origin in ("hub", "hub-cache") and self.folder else None

    @property
    def card(self) -> str:
        """The model card (README.md) of the loaded folder without its YAML front matter, or ""."""
        path = self.folder / "README.md" if self.folder else None
        if path is None or not path.is_file():
            return ""
        card = path.read_text(encoding="utf-8", errors="replace")
        if card.startswith("---"):
            _, _, card = card[3:].partition("\n---")
        return card.strip()


class ModelLoader:
    """Resolves and loads model folders, remembering when the Hub is unreachable."""

    def __init__(self, offline: bool | None = None, hub_timeout: float = 3.0, cache_dir: str | Path | None = None):
        """`offline=None` follows HF_HUB_OFFLINE; True or False overrides it."""
        self.offline = constants.HF_HUB_OFFLINE if offline is None else offline
        self.hub_timeout = hub_timeout
        self.cache_dir = cache_dir
        self.hub_down: str | None = "offline mode" if self.offline else None

    def load_later(self, spec: ModelSpec, load_fn: Callable[[Path], Any]) -> LoadedModel:
        """A placeholder to show now (origin "loading", `ready` not set), filled in by `finish_loading`."""
        placeholder = LoadedModel(spec, None, "loading", None, "loading in the background", threading.Event())
        placeholder.load_later = lambda: self.load(spec, load_fn)
        return placeholder

    def load(self, spec: ModelSpec, load_fn: Callable[[Path], Any]) -> LoadedModel:
        errors = []
        for origin, folder, message in self._candidate_folders(spec):  # lazily: stop at the first that loads
            try:
                model = load_fn(folder)
            except Exception as error:  # a corrupt folder must not stop the app: try the next one
                errors.append(f"{origin} copy in {folder}: {type(error).__name__}: {error}")
                continue
            if errors:
                message += f"; after failing to load the {'; '.join(errors)}"
            return LoadedModel(spec, model, origin, folder, message)
        reason = "; ".join(errors) or f"no weights found (Hub: {self.hub_down}; shipped: {spec.shipped_label} missing)"
        return LoadedModel(spec, None, "unavailable", None, f"disabled: {reason}")

    def _candidate_folders(self, spec: ModelSpec):
        hub_note = ""
        if self.hub_down is None:
            folder, hub_note = self._download(spec)
            if folder is not None:
                yield "hub", folder, f"Hub repo {spec.hub_label}"
        if self.hub_down is not None:
            cached = self._cached(spec)
            if cached is not None:
                yield (
                    "hub-cache",
                    cached,
                    f"Hub repo {spec.hub_label} from the local cache (Hub unreachable: {self.hub_down})",
                )
            hub_note = f"Hub unreachable: {self.hub_down}"
        if (spec.shipped_dir / "config.json").exists():
            why = f" ({hub_note})" if hub_note else ""
            yield "shipped", spec.shipped_dir, f"shipped weights in {spec.shipped_label}{why}"

    def _download(self, spec: ModelSpec) -> tuple[Path | None, str]:
        """Ask the Hub about the repo (with a deadline), then download it; returns (folder or None, why not)."""
        outcome: dict[str, Any] = {}

        def ask() -> None:
            try:
                outcome["info"] = model_info(spec.repo_id, revision=spec.revision, timeout=self.hub_timeout)
            except Exception as error:
                outcome["error"] = error

        worker = threading.Thread(target=ask, daemon=True)  # left behind if the Hub hangs
        worker.start()
        worker.join(self.hub_timeout)
        error = outcome.get("error")
        if worker.is_alive():
            self.hub_down = f"no answer within {self.hub_timeout:g} s"
            return None, self.hub_down
        if isinstance(error, RevisionNotFoundError):
            return None, f"revision {spec.revision!r} not found in Hub repo {spec.repo_id}"
        if isinstance(error, (RepositoryNotFoundError, GatedRepoError, HFValidationError)):
            return None, f"Hub repo {spec.repo_id} not found or not accessible"
        if error is not None:
            self.hub_down = _short_reason(error)
            return None, self.hub_down
        # The Hub answered: download without a deadline (a large model can take minutes).
        try:
            folder = snapshot_download(
                spec.repo_id, revision=spec.revision, allow_patterns=HUB_FILE_PATTERNS, cache_dir=self.cache_dir
            )
        except Exception as error:
            return None, f"download of {spec.hub_label} failed: {_short_reason(error)}"
        return Path(folder), ""

    def _cached(self, spec: ModelSpec) -> Path | None:
        try:
            return Path(
                snapshot_download(
                    spec.repo_id,
                    revision=spec.revision,
                    allow_patterns=HUB_FILE_PATTERNS,
                    cache_dir=self.cache_dir,
                    local_files_only=True,
                )
            )
        except (LocalEntryNotFoundError, HFValidationError, OSError, ValueError):
            return None


def finish_loading(
    models: Iterable[LoadedModel], on_ready: Callable[[LoadedModel], None] | None = None
) -> threading.Thread:
    """Load the placeholders made by `ModelLoader.load_later` in a background thread, one by one.

    Each placeholder is filled in place and its `ready` event set, whether its model loaded or not;
    then `on_ready(placeholder)` is called, e.g. to log where its weights came from.
    """
    pending = [model for model in models if model.load_later is not None and not model.ready.is_set()]

    def load_all() -> None:
        for placeholder in pending:
            try:
                loaded = placeholder.load_later()
                placeholder.model, placeholder.origin = loaded.model, loaded.origin
                placeholder.folder, placeholder.message = loaded.folder, loaded.message
            except Exception as error:  # load() catches the model's own errors: this would be a bug, said on the page
                placeholder.origin, placeholder.message = "unavailable", f"disabled: {_short_reason(error)}"
            finally:
                placeholder.ready.set()
            if on_ready is not None:
                on_ready(placeholder)

    thread = threading.Thread(target=load_all, daemon=True, name="finish-loading")
    thread.start()
    return thread


def _short_reason(error: Exception) -> str:
    first_line = str(error).splitlines()[0] if str(error) else ""
    return f"{type(error).__name__}: {first_line}".strip(": ")


def spec_from_env(
    name: str, default_repo: str, shipped_dir: Path, overrides: dict[str, str] | None = None
) -> ModelSpec:
    """A model's spec, with repo and revision overridable as `name=repo[@revision]` or env vars.

    For the model "digits-vae" the environment variables are DIGITS_VAE_REPO and DIGITS_VAE_REVISION; any
    character of the name that a variable's name cannot hold becomes "_" (digits-vae-beta0.5: DIGITS_VAE_BETA0_5_).
    """
    env_prefix = re.sub(r"[^A-Z0-9]", "_", name.upper())
    value = (overrides or {}).get(name) or os.environ.get(f"{env_prefix}_REPO") or default_repo
    repo_id, _, revision = value.partition("@")
    revision = revision or os.environ.get(f"{env_prefix}_REVISION") or None
    return ModelSpec(name=name, repo_id=repo_id, shipped_dir=shipped_dir, revision=revision)
