"""``ladder/_accel.c`` under AddressSanitizer and UndefinedBehaviorSanitizer.

The extension is compiled with ``-fsanitize=address,undefined`` into a copy of the packages, and
the fuzz harness (tests/fuzz_harness.py) replays the seed and regression corpus, then a bounded
number of mutants, in a Python that preloads the ASan runtime. Any sanitizer report fails the
test: a signed overflow (the timestamps of issue 15) as much as an out-of-bounds read."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

import fuzz_harness

ROOT = Path(__file__).resolve().parents[2]
RUNS = 120  # the seeds (46) and mutants: about 30 s of CPU under the sanitizers
MINUTES = 3  # the wall-clock budget, for a loaded CI machine: the seeds always run in full


def _asan_runtime(cc: str) -> str:
    found = subprocess.run([cc, "-print-file-name=libasan.so"], capture_output=True, text=True).stdout.strip()
    if not os.path.isabs(found) or not os.path.exists(found):
        pytest.fail(f"{cc} has no libasan.so (install gcc's sanitizer runtime: scripts/setup.sh does)")
    return found


def build_sanitized(dest: Path) -> Path:
    """A copy of ``ladder`` and ``decoders`` under ``dest`` whose accelerator is sanitized."""
    for package in ("ladder", "decoders"):
        shutil.copytree(ROOT / package, dest / package, ignore=shutil.ignore_patterns("*.so", "__pycache__"))
    target = dest / "ladder" / ("_accel" + sysconfig.get_config_var("EXT_SUFFIX"))
    command = [
        "gcc", "-shared", "-fPIC", "-O1", "-g", "-fno-omit-frame-pointer", "-ffp-contract=off",
        "-fsanitize=address,undefined", "-fno-sanitize-recover=all",
        "-I" + sysconfig.get_paths()["include"], str(dest / "ladder" / "_accel.c"), "-o", str(target),
    ]
    subprocess.run(command, check=True, capture_output=True, text=True)
    # ... and the compiled SIP parse (decoders/_sipparse.c), which every parse_sip reaches first
    parser = dest / "decoders" / ("_sipparse" + sysconfig.get_config_var("EXT_SUFFIX"))
    subprocess.run(command[:-3] + [str(dest / "decoders" / "_sipparse.c"), "-o", str(parser)],
                   check=True, capture_output=True, text=True)
    return target


def test_accelerator_under_asan_and_ubsan(tmp_path):
    if shutil.which("gcc") is None:
        pytest.fail("gcc is needed to build the sanitized accelerator (scripts/setup.sh installs it)")
    target = build_sanitized(tmp_path / "build")
    env = dict(os.environ)
    env.pop("PCAPLADDER_PURE_PYTHON", None)
    env.update(
        PYTHONPATH=str(tmp_path / "build"),
        LD_PRELOAD=_asan_runtime("gcc"),
        ASAN_OPTIONS="detect_leaks=0:halt_on_error=1:abort_on_error=0",
        UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1",
    )
    result = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "fuzz_harness.py"), "--runs", str(RUNS), "--minutes", str(MINUTES),
         "--seed", "15", "--memory-mb", "0"],
        env=env, capture_output=True, text=True, timeout=600,
    )
    report = result.stderr
    assert f"accelerator {target}" in report, report[-2000:]  # the sanitized build, not the usual one
    assert "runtime error" not in report and "AddressSanitizer" not in report, report[-4000:]
    assert result.returncode == 0, report[-4000:]
    done = re.search(r"fuzz: (\d+) inputs, 0 finding\(s\)", report)
    assert done is not None, report[-2000:]
    assert int(done.group(1)) >= len(fuzz_harness.load_seeds()), report[-2000:]  # every seed replayed


def test_sip_parse_under_asan_and_ubsan():
    """The compiled SIP parse (``decoders/_sipparse.c``) on mutated messages (tests/fuzz_sipparse.py):
    wherever it answers, the same ``SipMessage`` as Python's, and no sanitizer report."""
    if shutil.which("gcc") is None:
        pytest.fail("gcc is needed to build the sanitized parser (scripts/setup.sh installs it)")
    result = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "fuzz_sipparse.py"), "--sanitize", "--runs", "3000", "--minutes", "2"],
        capture_output=True, text=True, timeout=600,
    )
    report = result.stderr
    assert "runtime error" not in report and "AddressSanitizer" not in report, report[-4000:]
    assert result.returncode == 0, report[-4000:]
    assert "ladder-asan-" in report, report[-2000:]  # the sanitized build, not the usual one
    done = re.search(r"fuzz-sipparse: (\d+) inputs, (\d+) answered by C and compared, 0 finding\(s\)", report)
    assert done is not None and int(done.group(2)) >= 100, report[-2000:]


def test_calls_fast_lane_under_asan_and_ubsan():
    """``ladder calls``' fast lane (``_accel.simple_calls``, ``_accel.call_groups``) on mutated
    SIP payloads of real calls (tests/fuzz_simple_calls.py): lane on and off give the same rows."""
    if shutil.which("gcc") is None:
        pytest.fail("gcc is needed to build the sanitized accelerator (scripts/setup.sh installs it)")
    result = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "fuzz_simple_calls.py"), "--sanitize", "--runs", "40", "--calls", "40",
         "--seed", "7", "--minutes", str(MINUTES)],
        env={k: v for k, v in os.environ.items() if k != "PCAPLADDER_PURE_PYTHON"},
        capture_output=True, text=True, timeout=600,
    )
    report = result.stderr
    assert "runtime error" not in report and "AddressSanitizer" not in report, report[-4000:]
    assert result.returncode == 0, report[-4000:]
    done = re.search(r"fuzz-simple-calls: (\d+) inputs, .* (\d+) summed up in C, 0 finding\(s\)", report)
    assert done is not None and int(done.group(1)) == 40 and int(done.group(2)) > 0, report[-2000:]


def test_indented_json_under_asan_and_ubsan(tmp_path):
    """``textsafe``'s compiled JSON writer (``_accel.indented_json``) on random values of every
    type, plane and depth (tests/fuzz_indented_json.py): the Python writer's text, no report."""
    if shutil.which("gcc") is None:
        pytest.fail("gcc is needed to build the sanitized accelerator (scripts/setup.sh installs it)")
    target = build_sanitized(tmp_path / "build")
    env = {k: v for k, v in os.environ.items() if k != "PCAPLADDER_PURE_PYTHON"}
    env.update(PYTHONPATH=str(tmp_path / "build"), LD_PRELOAD=_asan_runtime("gcc"),
               ASAN_OPTIONS="detect_leaks=0:halt_on_error=1:abort_on_error=0",
               UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1")
    result = subprocess.run([sys.executable, str(ROOT / "tests" / "fuzz_indented_json.py"), "--runs", "3000",
                             "--seed", "13"], env=env, capture_output=True, text=True, timeout=600)
    report = result.stderr
    assert "runtime error" not in report and "AddressSanitizer" not in report, report[-4000:]
    assert result.returncode == 0, report[-4000:]
    assert f"accelerator {target}" in report, report[-2000:]
    done = re.search(r"fuzz-indented-json: .*: 3000 values, (\d+) written in C, 0 finding\(s\)", report)
    assert done is not None and int(done.group(1)) > 3000, report[-2000:]
