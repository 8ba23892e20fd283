#!/usr/bin/env bash
# Sets up pcapladder in ./.venv on a fresh Debian machine (Python >= 3.11).
# Usage: bash scripts/setup.sh [--test]   (--test also installs what the test suite needs)
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive

want_test=0
[ "${1:-}" = "--test" ] && want_test=1

apt_packages=()
if ! python3 -m venv --help >/dev/null 2>&1 || ! python3 -c 'import ensurepip' >/dev/null 2>&1; then
  apt_packages+=(python3-venv)
fi
# tshark is the pyshark engine's back end and the test oracle.
command -v tshark >/dev/null 2>&1 || apt_packages+=(tshark)
# dumpcap (Wireshark's capture engine, in wireshark-common) captures for `ladder live -d`.
[ -x /usr/bin/dumpcap ] || command -v dumpcap >/dev/null 2>&1 || apt_packages+=(wireshark-common)
# A C compiler, libc and Python headers build the optional RTP fast path (ladder/_accel.c).
command -v gcc >/dev/null 2>&1 || apt_packages+=(gcc libc6-dev)
[ -e /usr/include/stdint.h ] || apt_packages+=(libc6-dev)
if ! python3 -c 'import os, sysconfig, sys; sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))'; then
  apt_packages+=(python3-dev)
fi
if [ "$want_test" = 1 ]; then
  command -v sipp >/dev/null 2>&1 || apt_packages+=(sip-tester)
  command -v kamailio >/dev/null 2>&1 || apt_packages+=(kamailio)
  command -v tcpdump >/dev/null 2>&1 || apt_packages+=(tcpdump)
  command -v tmux >/dev/null 2>&1 || apt_packages+=(tmux)
  # The live tests make a network namespace (ip netns) and drop privileges (setpriv).
  command -v ip >/dev/null 2>&1 || apt_packages+=(iproute2)
  command -v setpriv >/dev/null 2>&1 || apt_packages+=(util-linux)
  command -v sngrep >/dev/null 2>&1 || apt_packages+=(sngrep)  # the oracle of the call list's states
  command -v chromium >/dev/null 2>&1 || apt_packages+=(chromium)
  command -v chromedriver >/dev/null 2>&1 || apt_packages+=(chromium-driver)
fi
if [ ${#apt_packages[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "setup: need root to install: ${apt_packages[*]}" >&2
    exit 1
  fi
  echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections 2>/dev/null || true
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${apt_packages[@]}" >/dev/null
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
# pip's own chatter (setuptools' notes on editable installs with a C extension) goes to a log,
# shown when the install fails.
target=.
[ "$want_test" = 1 ] && target='.[test]'
if ! .venv/bin/python -m pip install -q -e "$target" >.venv/pip-install.log 2>&1; then
  cat .venv/pip-install.log >&2
  exit 1
fi
if ! .venv/bin/python -c 'import ladder._accel' 2>/dev/null; then
  echo "setup: note: the compiled RTP fast path (ladder/_accel.c) was not built (see .venv/pip-install.log);" \
    "ladder runs in pure Python, slower" >&2
fi
