"""The one-command Space deploy, against a fake Hub API: what it would upload, and where."""

import fnmatch
import json
import subprocess
import sys

import pytest

import deploy


class FakeHubApi:
    def __init__(self):
        self.calls = []

    def __getattr__(self, method):
        return lambda *args, **kwargs: self.calls.append((method, args, kwargs))


def test_plan_uploads_the_app_and_each_shipped_model_to_its_own_repo():
    plan = deploy.make_plan("someone/suite")
    assert plan.model_repos["digits-vae"] == "someone/mnist-vae"
    assert "text-gpt2" not in plan.model_repos  # OpenAI's GPT-2 is not ours to upload
    assert plan.variables["DIGITS_VAE_REPO"] == "someone/mnist-vae"  # app.py reads this variable
    assert {"app.py", "requirements.txt", "README.md", "models/loading.py"} <= set(plan.space_files)
    assert not [path for path in plan.space_files if path.endswith(".safetensors") or path.startswith("tests/")]
    assert deploy.make_plan("someone/suite", namespace="org").model_repos["digits-ae"] == "org/mnist-autoencoder"
    with pytest.raises(ValueError, match="owner/name"):
        deploy.make_plan("suite")


def test_deploy_creates_the_repos_then_uploads(tmp_path):
    weights = tmp_path / "weights"
    (weights / "digits-ae").mkdir(parents=True)
    (weights / "digits-ae" / "config.json").write_text("{}")
    plan = deploy.make_plan("someone/suite", weights_dir=weights)
    api = FakeHubApi()
    url = deploy.deploy(plan, api, weights_dir=weights, hardware="zero-a10g")
    assert url.endswith("/spaces/someone/suite")
    methods = [method for method, _, _ in api.calls]
    assert methods == ["create_repo", "upload_folder", "create_repo", "add_space_variable", "upload_folder"]
    _, _, space_repo = api.calls[2]
    assert space_repo == {"repo_type": "space", "space_sdk": "gradio", "space_hardware": "zero-a10g", "exist_ok": True}
    assert api.calls[3][1] == ("someone/suite", "DIGITS_AE_REPO", "someone/mnist-autoencoder")
    assert api.calls[4][2]["allow_patterns"] == plan.space_files


def test_dry_run_prints_the_plan(capsys):
    deploy.main(["--space", "someone/suite", "--dry-run"])
    printed = capsys.readouterr().out
    assert "DIGITS_AE_REPO=someone/mnist-autoencoder" in printed and "app.py" in printed


def test_the_space_gets_every_project_module_the_app_imports():
    listing = (
        "import json, pathlib, sys; import app; root = pathlib.Path.cwd().resolve(); "
        "print(json.dumps(sorted(str(pathlib.Path(m.__file__).resolve().relative_to(root)) "
        "for m in list(sys.modules.values()) if getattr(m, '__file__', None) "
        "and pathlib.Path(m.__file__).is_absolute() and pathlib.Path(m.__file__).resolve().is_relative_to(root))))"
    )
    imported = json.loads(
        subprocess.run(
            [sys.executable, "-c", listing], check=True, capture_output=True, text=True, cwd=deploy.ROOT
        ).stdout
    )
    assert "tabs/common.py" in imported and "models/registry.py" in imported
    plan = deploy.make_plan("someone/suite")
    missing = [path for path in imported if not any(fnmatch.fnmatch(path, pattern) for pattern in plan.space_files)]
    assert not missing, f"app.py imports these, but the Space would not get them: {missing}"
