#!/usr/bin/env bash
# Everything the tests need on a fresh machine, then the tests: bash tests/run.sh [pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."

python -m pip install --quiet --disable-pip-version-check -r requirements.txt -r requirements-test.txt

# The browser test drives Debian's Chromium (Playwright cannot download its own browser here).
if ! command -v chromium >/dev/null 2>&1; then
    sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo apt-get update -qq && $sudo apt-get install -y -qq chromium >/dev/null
fi

export GRADIO_ANALYTICS_ENABLED=False HF_HUB_OFFLINE=1
python -m ruff check .
python -m pytest "$@"
