"""The CRC-32 the compiled load keeps of each SIP message and the fast lane checks each message
read back against (``_accel.crc32``, folded with PCLMULQDQ where the CPU has it, else the
slice-by-8 table) is ``zlib.crc32``, which the Python ``MessageStore`` checks with: at every
length around the folding's steps (64 bytes, then 16), at every alignment, on real SIP bytes."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

accel = pytest.importorskip("ladder._accel")

SAMPLES = Path(__file__).resolve().parents[3] / "samples"


def _cases() -> list[bytes]:
    rng = random.Random(3261)
    data = bytes(rng.randrange(256) for _ in range(4096 + 64))
    cases = [data[offset:offset + n] for n in range(0, 400) for offset in (0, 1, 5, 8, 15)]
    cases += [data[:n] for n in (511, 512, 513, 1023, 1024, 1025, 4095, 4096)]
    cases += [bytes([b]) * n for b in (0, 0xFF) for n in (63, 64, 65, 80, 128, 1500)]
    return cases


def test_crc32_is_zlibs_at_every_length_and_alignment() -> None:
    for case in _cases():
        assert accel.crc32(case) == zlib.crc32(case), len(case)


def test_crc32_is_zlibs_on_the_samples_sip_messages() -> None:
    from ladder.capture.loader import load_capture

    checked = 0
    for path in sorted(SAMPLES.glob("*.pcap")):
        store = load_capture(str(path), media=False, messages=False, locate=True).located_store()
        for i in range(len(store.crc)):
            raw = store.raw(i)  # (read back and checked against the load's column, zlib's CRC)
            assert accel.crc32(raw) == zlib.crc32(raw) == store.crc[i], (path.name, i)
            checked += 1
    assert checked > 100


def test_the_table_path_agrees_where_the_cpu_folds() -> None:
    """``PCAPLADDER_CRC_TABLE=1`` keeps the table path (a CPU without PCLMULQDQ): the same CRCs."""
    script = ("import random, zlib; from ladder._accel import crc32; r = random.Random(7); "
              "cases = [bytes(r.randrange(256) for _ in range(n)) for n in range(0, 700, 7)]; "
              "print(all(crc32(c) == zlib.crc32(c) for c in cases))")
    env = dict(os.environ, PCAPLADDER_CRC_TABLE="1")
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"
