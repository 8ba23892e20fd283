#!/usr/bin/env bash
# Sets up everything the tests need (Python packages, tshark, sipp, kamailio, tcpdump, tmux,
# chromium) and runs the whole suite. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test
# The venv first on PATH: a test that runs `ladder` gets this checkout's, never another install.
export PATH="$PWD/.venv/bin:$PATH"
# Compile once up front: where PYTHONDONTWRITEBYTECODE is set, each pytest worker and each `ladder`
# subprocess would otherwise compile every module of this checkout again, on every run.
.venv/bin/python -m compileall -q ladder decoders tui tests bench >/dev/null
# Types first: decoders/ strictly, the rest at mypy's default level ([tool.mypy] in pyproject.toml).
.venv/bin/mypy
exec .venv/bin/python -m pytest -n 2 "$@"
