"""Deploy the suite as a Hugging Face Space, in one command.

    python deploy.py --space you/generative-models-suite --dry-run    # show the plan, touch nothing
    python deploy.py --space you/generative-models-suite              # CPU Basic (free, 2 vCPU)
    python deploy.py --space you/generative-models-suite --hardware zero-a10g   # ZeroGPU

1. Each model shipped in weights/ goes to a model repo of its own, <namespace>/<the default repo's name>
   (the namespace defaults to the Space's owner), with its model card. The Space then loads its weights
   from the Hub, as any user of the app would, and the About tab shows the repo and commit.
2. The Space gets the app: app.py, models/, tabs/, requirements.txt, README.md (whose front matter configures
   the Space), the example images and the README's figures; no training code, tests or weights.
3. Each model's repo is set as a Space variable (e.g. DIGITS_VAE_REPO=you/mnist-vae), which app.py reads.

Needs a Hub token with write access (`hf auth login`, or HF_TOKEN). On ZeroGPU the `spaces` package is
installed by the platform and app.py wraps every model call in `spaces.GPU`.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from huggingface_hub import HfApi

from models.registry import MODELS, WEIGHTS

ROOT = Path(__file__).resolve().parent
SPACE_FILES = [
    "app.py",
    "requirements.txt",
    "README.md",
    "models/*.py",
    "tabs/*.py",
    "weights/examples/*.png",
    "docs/*.png",
]


@dataclass
class DeployPlan:
    space: str
    model_repos: dict[str, str]  # model name -> Hub repo its shipped folder goes to
    variables: dict[str, str]  # Space variables: where app.py finds each model
    space_files: list[str]  # paths relative to the repo root


def make_plan(space: str, namespace: str | None = None, weights_dir: Path = WEIGHTS) -> DeployPlan:
    """What `deploy` will upload: every model folder shipped in `weights_dir`, and the app's files."""
    if space.count("/") != 1:
        raise ValueError(f"--space must look like owner/name, not {space!r}")
    namespace = namespace or space.split("/")[0]
    model_repos = {
        name: f"{namespace}/{default_repo.split('/')[1]}"
        for name, (default_repo, _) in MODELS.items()
        if (weights_dir / name / "config.json").is_file()
    }
    variables = {f"{name.upper().replace('-', '_')}_REPO": repo for name, repo in model_repos.items()}
    space_files = sorted(
        {str(path.relative_to(ROOT)) for pattern in SPACE_FILES for path in ROOT.glob(pattern) if path.is_file()}
    )
    return DeployPlan(space, model_repos, variables, space_files)


def deploy(plan: DeployPlan, api: Any, weights_dir: Path = WEIGHTS, hardware: str | None = None) -> str:
    """Upload the models, then the Space; returns the Space's URL."""
    for name, repo_id in plan.model_repos.items():
        api.create_repo(repo_id, repo_type="model", exist_ok=True)
        api.upload_folder(folder_path=weights_dir / name, repo_id=repo_id, commit_message=f"Upload {name}")
        print(f"model {name} -> {repo_id}")
    api.create_repo(
        plan.space,
        repo_type="space",
        space_sdk="gradio",
        space_hardware=hardware,
        exist_ok=True,
    )
    for key, value in plan.variables.items():
        api.add_space_variable(plan.space, key, value)
    api.upload_folder(
        folder_path=ROOT,
        repo_id=plan.space,
        repo_type="space",
        allow_patterns=plan.space_files,
        commit_message="Deploy the generative models suite",
    )
    return f"https://huggingface.co/spaces/{plan.space}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--space", required=True, help="owner/name of the Space (created if needed)")
    parser.add_argument("--namespace", help="owner of the model repos (default: the Space's owner)")
    parser.add_argument("--hardware", help="e.g. cpu-basic (the default for a new Space) or zero-a10g (ZeroGPU)")
    parser.add_argument("--weights-dir", type=Path, default=WEIGHTS, help="the model folders to upload")
    parser.add_argument("--dry-run", action="store_true", help="print the plan and upload nothing")
    args = parser.parse_args(argv)
    try:
        plan = make_plan(args.space, args.namespace, args.weights_dir)
    except ValueError as error:
        parser.error(str(error))
    for name, repo_id in plan.model_repos.items():
        print(f"model   {args.weights_dir.name}/{name} -> {repo_id}")
    for key, value in plan.variables.items():
        print(f"env     {key}={value}")
    print(f"space   {plan.space}: {len(plan.space_files)} files")
    for path in plan.space_files:
        print(f"        {path}")
    if not args.dry_run:
        print(f"deployed: {deploy(plan, HfApi(), args.weights_dir, args.hardware)}")


if __name__ == "__main__":
    main()
