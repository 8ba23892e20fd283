#!/usr/bin/env bash
# Sets up everything the tests need (Python packages, tshark, sipp, kamailio, tcpdump, tmux,
# chromium) and runs the whole suite. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test
exec .venv/bin/python -m pytest -n 2 "$@"
