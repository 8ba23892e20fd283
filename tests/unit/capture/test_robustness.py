"""Regression tests for the defects fuzzing found (issue 15) and the limits for hostile captures.

Each test runs the real command line on real bytes, in the compiled path and in pure Python
(``PCAPLADDER_PURE_PYTHON=1``), and checks the two agree. The files in ``tests/repro/`` are the
fuzz campaign's own reproducers (README there maps them); the others are built here.
"""

from __future__ import annotations

import gzip
import random
import re
import struct
from pathlib import Path

import pytest

from captures_crafted import ethernet, ipv4, pcap_bytes, pcapng_bytes, rtp, sip_invite, udp, udp_sip_frame
from decoders import tcpstreams
from decoders.ipfragments import FragmentReassembler
from decoders.records import FrameRef
from ladder.capture import reader as ingest
from ladder.capture import limits
from ladder.media import streams as rtp_streams
from ladder.cli.dispatch import main

REPRO = Path(__file__).resolve().parents[2] / "repro"
T0 = 1_700_000_000 * 10**9
# What must never reach a terminal: C0 but newline, DEL, C1, bidi controls, line separators.
UNSAFE = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def run(capsys, monkeypatch, argv: list[str], pure: bool) -> tuple[int, str, str]:
    if pure:
        monkeypatch.setenv("PCAPLADDER_PURE_PYTHON", "1")
    else:
        monkeypatch.delenv("PCAPLADDER_PURE_PYTHON", raising=False)
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def both(capsys, monkeypatch, argv: list[str]) -> tuple[int, str, str]:
    """The command's result, the same in the compiled and the pure-Python path."""
    compiled = run(capsys, monkeypatch, argv, pure=False)
    pure = run(capsys, monkeypatch, argv, pure=True)
    assert compiled == pure
    return compiled


def rtp_frame(seq: int, ssrc: int, sport: int = 40000) -> bytes:
    return ethernet(ipv4(udp(rtp(seq, 160 * seq, ssrc), sport, 40002), "10.0.0.1", "10.0.0.2"))


def _idb_option(code: int, value: bytes) -> bytes:
    return struct.pack("<HH", code, len(value)) + value + bytes(-len(value) % 4)


# -- 1, 2, 3: timestamps ---------------------------------------------------------------------

def test_tsresol_2_pow_minus_63_reads_in_both_paths(capsys, monkeypatch):
    # if_tsresol 0xBF made units 2**63, which the C parse could not take (OverflowError).
    code, out, err = both(capsys, monkeypatch, ["stats", str(REPRO / "pcapng_tsresol_bf.pcapng")])
    assert code == 0 and "requests:      INVITE 1" in out and "Traceback" not in err


@pytest.mark.parametrize("name, clamped_to", [("pcapng_tsoffset_1e10.pcapng", "the year 2116"),
                                              ("fuzz_tsoffset_neg_mutant.pcapng", "0"),
                                              ("series_overflow.pcapng", "the year 2116")])
def test_absurd_timestamps_are_clamped_with_one_warning(capsys, monkeypatch, name, clamped_to):
    # if_tsoffset 1e10 s / -2**40 s and nanosecond stamps near 2**63: OverflowError in arm(),
    # signed overflow in scan_pcapng and series_open before; now clamped where read.
    code, out, err = both(capsys, monkeypatch, ["stats", str(REPRO / name)])
    assert code == 0
    warnings = [line for line in err.splitlines() if "absurd timestamp" in line]
    assert len(warnings) == 1 and f"clamped to {clamped_to}" in warnings[0] and "more like it" in warnings[0]
    both(capsys, monkeypatch, ["streams", "--json", str(REPRO / name)])


def test_clamped_timestamps_stay_in_range(tmp_path):
    offset = _idb_option(14, struct.pack("<q", -(1 << 40))) + _idb_option(0, b"")
    blocks = pcapng_bytes([(1, None)], [(0, T0 + i, rtp_frame(i, 7)) for i in range(3)])
    # the same file with if_tsoffset on its interface: rebuild the IDB with the option
    shb_len = struct.unpack_from("<I", blocks, 4)[0]
    idb_len = struct.unpack_from("<I", blocks, shb_len + 4)[0]
    body = blocks[shb_len + 8: shb_len + idb_len - 4] + offset
    idb = struct.pack("<II", 1, 12 + len(body)) + body + struct.pack("<I", 12 + len(body))
    path = tmp_path / "offset.pcapng"
    path.write_bytes(blocks[:shb_len] + idb + blocks[shb_len + idb_len:])
    with ingest.CaptureReader(str(path)) as reader:
        stamps = [record[0] for record in reader.records()]
    assert stamps == [0, 0, 0] and len(reader.errors) == 1


# -- 4: many pcapng interfaces ---------------------------------------------------------------

class CountingAccelerator:
    """The real accelerator, counting how often the reader reconfigures it."""

    def __init__(self, real):
        self._real = real
        self.configured = 0

    def configure_pcapng(self, *args):
        self.configured += 1
        return self._real.configure_pcapng(*args)

    def __getattr__(self, name):
        return getattr(self._real, name)


def test_many_interfaces_configure_the_accelerator_a_bounded_number_of_times(tmp_path, capsys, monkeypatch):
    pytest.importorskip("ladder._accel")
    n = 3000
    frame = udp_sip_frame(sip_invite())
    path = tmp_path / "ifaces.pcapng"
    path.write_bytes(pcapng_bytes([(1, None)] * n, [(i % 2 and n - 1, T0 + i * 1000, frame) for i in range(10)]))
    from ladder.capture.pipeline import Pipeline

    pipeline = Pipeline()
    accelerator = CountingAccelerator(pipeline.accelerator())
    with ingest.CaptureReader(str(path)) as reader:
        pipeline.feed_records(reader.records(accelerator))
    pipeline.finish()
    # It was once per interface block (quadratic: 100,000 interfaces ran past 120 s).
    assert accelerator.configured <= ingest.ACCELERATED_INTERFACES + 1
    assert pipeline.frame_classes == {"sip": 10}
    both(capsys, monkeypatch, ["stats", str(path)])


# -- 5: IP fragments -------------------------------------------------------------------------

def test_overlapping_fragments_are_capped_per_datagram(tmp_path, capsys, monkeypatch):
    # The last fragment, then thousands of 8-byte pieces at offset 0: the sum of sizes passes
    # the datagram's, so every fragment re-sorted every piece (1.2 MB took 30 s).
    n = 3000
    last = ipv4(b"Z" * 8, "10.0.0.1", "10.0.0.2", proto=17, ident=7, frag_offset=64000, more=False)
    pieces = [ipv4(b"A" * 8, "10.0.0.1", "10.0.0.2", proto=17, ident=7, frag_offset=0, more=True)] * n
    path = tmp_path / "overlap.pcap"
    path.write_bytes(pcap_bytes([(T0 + i * 1000, ethernet(p)) for i, p in enumerate([last] + pieces)]))
    code, out, err = both(capsys, monkeypatch, ["stats", str(path)])
    assert "ip-fragment-too-many-pieces" in out
    assert "limit fragment-pieces=256 reached" in err


def _reference(pieces: list[tuple[int, bytes]], total: int) -> bytes | None:
    """Reassembly by the book: bytes in arrival order, the first copy of each byte wins
    among pieces sorted by offset (stable)."""
    out, covered = bytearray(total), 0
    for offset, data in sorted(pieces, key=lambda piece: piece[0]):
        if offset > covered:
            return None
        stop = min(offset + len(data), total)
        if stop > covered:
            out[covered:stop] = data[covered - offset: stop - offset]
            covered = stop
    return bytes(out) if covered >= total else None


def test_fragment_reassembly_matches_the_reference_in_any_order():
    rng = random.Random(15)
    for _ in range(300):
        total = rng.randrange(8, 400, 8)
        pieces = []
        for _ in range(rng.randrange(1, 12)):
            offset = rng.randrange(0, total, 8)
            pieces.append((offset, bytes([rng.randrange(256)]) * rng.randrange(8, total - offset + 8, 8)))
        pieces = [(o, d[: total - o]) for o, d in pieces if d[: total - o]]
        pieces.append((total - 8, b"L" * 8))
        rng.shuffle(pieces)
        reassembler = FragmentReassembler()
        result, fed = None, []
        for index, (offset, data) in enumerate(pieces):
            more = offset + len(data) < total
            fed.append((offset, data))
            result = reassembler.add("k", offset, more, data, FrameRef(index + 1, 0), 0)
            if result is not None:
                break
        expected = _reference(fed, total)
        assert (result.payload if result else None) == expected


# -- 6: text output --------------------------------------------------------------------------

HOSTILE = "x\x1b[2J\x1b]52;c;ZWNobyBwd25lZAo=\x07\x1b]0;owned\x07\u202e\u2028\x7f\x9b31m\u2066@h"


def hostile_capture(tmp_path: Path) -> Path:
    invite = sip_invite(call_id=HOSTILE).replace(b"INVITE sip:", "INVITE sip:\u202eevil".encode(), 1)
    frames = [(T0, udp_sip_frame(invite))]
    frames += [(T0 + (i + 1) * 20_000_000, rtp_frame(i, 0xC0FFEE)) for i in range(6)]
    path = tmp_path / "hostile.pcap"
    path.write_bytes(pcap_bytes(frames))
    return path


@pytest.mark.parametrize("argv", [["check"], ["check", "--json"], ["show"], ["show", "--format", "json"],
                                  ["show", "--format", "mermaid"], ["calls"], ["calls", "--json"], ["stats"],
                                  ["stats", "--json"], ["streams"], ["streams", "--json"]])
def test_no_terminal_control_reaches_any_output(tmp_path, capsys, monkeypatch, argv):
    for path in (REPRO / "check_callid_escape.pcap", hostile_capture(tmp_path)):
        _code, out, err = both(capsys, monkeypatch, argv + [str(path)])
        assert not UNSAFE.search(out), (argv, UNSAFE.findall(out))
        assert not UNSAFE.search(err), (argv, UNSAFE.findall(err))


def test_json_keeps_the_hostile_text_as_escapes(tmp_path, capsys, monkeypatch):
    import json

    _code, out, _err = both(capsys, monkeypatch, ["calls", "--json", str(hostile_capture(tmp_path))])
    assert "\\u202e" in out and "\\u2028" in out and "\\u009b" in out and "\\u007f" in out
    assert json.loads(out)["calls"][0]["call_ids"] == [HOSTILE]  # the same value, only escaped


# -- 7: RTP streams --------------------------------------------------------------------------

def test_rtp_streams_beyond_the_limit_are_counted_not_kept(tmp_path, capsys, monkeypatch):
    frames = [(T0 + (s * 4 + i) * 1_000_000, rtp_frame(i, 1000 + s)) for s in range(60) for i in range(4)]
    path = tmp_path / "ssrcs.pcap"
    path.write_bytes(pcap_bytes(frames))
    _code, out, err = both(capsys, monkeypatch, ["stats", "--max", "rtp-streams=25", str(path)])
    assert "RTP:           100 packets in 25 streams" in out
    assert "rtp-stream-limit 35" in out and "udp-other 140" in out
    assert "limit rtp-streams=25 reached: 35 RTP streams refused (--max rtp-streams=N raises it)" in err


def test_memory_error_is_one_line(capsys, monkeypatch):
    import ladder.cli.stats

    def exhausted(args):
        raise MemoryError

    monkeypatch.setattr(ladder.cli.stats, "run", exhausted)
    assert main(["stats", str(REPRO / "check_callid_escape.pcap")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ladder: error: out of memory") and err.count("\n") == 1


# -- 8: gzip bombs ---------------------------------------------------------------------------

def test_gzip_bomb_stops_at_the_ratio(tmp_path, capsys, monkeypatch):
    # A pcap header and then zeros (16-byte empty records) ran for hours with no word.
    monkeypatch.setattr(ingest, "GZIP_RATIO_FLOOR", 2 << 20)  # the check starts after 2 MiB, not 16
    header = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)
    size = 6 << 20
    path = tmp_path / "zeros.pcap.gz"
    path.write_bytes(gzip.compress(header + bytes(size), 9))
    _code, out, err = both(capsys, monkeypatch, ["stats", str(path)])
    assert "decompressed data exceeds 100 times the compressed size" in err
    frames = int(re.search(r"frames: +([\d,]+)", out).group(1).replace(",", ""))
    assert 0 < frames < size // 16 // 2
    _code, out, err = run(capsys, monkeypatch, ["stats", "--max", "gzip-ratio=2000", str(path)], pure=False)
    assert "exceeds" not in err and f"frames:        {size // 16:,}" in out


# -- 9: repeated warnings --------------------------------------------------------------------

def test_undeclared_interface_is_one_warning_with_a_count(tmp_path, capsys, monkeypatch):
    frame = udp_sip_frame(sip_invite())
    good = pcapng_bytes([(1, None)], [(0, T0, frame)])
    stray = struct.pack("<IIIII", 5, 0, 0, len(frame), len(frame)) + frame + bytes(-len(frame) % 4)
    block = struct.pack("<II", 6, 12 + len(stray)) + stray + struct.pack("<I", 12 + len(stray))
    path = tmp_path / "undeclared.pcapng"
    path.write_bytes(good + block * 5000)
    _code, _out, err = both(capsys, monkeypatch, ["stats", str(path)])
    lines = err.splitlines()
    assert len(lines) == 1 and "undeclared interface 5" in lines[0] and "(4,999 more like it)" in lines[0]


# -- limits of the decoders ------------------------------------------------------------------

def test_tcp_directions_open_at_once_are_bounded():
    table = tcpstreams.TcpStreamTable(max_connections=10)
    reasons = []
    for port in range(50):
        result = table.feed("10.0.0.1", 10000 + port, "10.0.0.2", 5060, 1000, tcpstreams.TCP_SYN, b"", FrameRef(port + 1, 0))
        reasons += [d.reason for d in result.diagnostics]
    assert len(table._streams) == 10
    assert reasons == ["tcp-connection-limit"] * 40


def test_limit_defaults_agree_with_the_decoders():
    assert limits.MAX_CONNECTIONS == tcpstreams.MAX_CONNECTIONS
    assert limits.Limits().rtp_streams == rtp_streams.MAX_STREAMS


# -- the accelerator's constants and records -------------------------------------------------

def test_accelerator_takes_its_constants_from_python_and_refuses_unsafe_ones():
    accel = pytest.importorskip("ladder._accel")
    import decoders.linklayer

    good = dict(max_record=ingest.MAX_RECORD, max_ts_ns=ingest.MAX_TS_NS, max_vlan_tags=decoders.linklayer.MAX_VLAN_TAGS,
                timestamp_jump_ms=float(rtp_streams.TIMESTAMP_JUMP_MS), jitter_buffer_ms=rtp_streams.JITTER_BUFFER_MS)
    with pytest.raises(ValueError, match="out of the range"):
        accel.set_constants(**{**good, "max_ts_ns": (1 << 63) - 1})  # two of them would overflow
    accel.set_constants(**good)
    assert ingest.ACCELERATED_INTERFACES == accel.MAX_IFACES


def test_accelerated_runs_are_explicit_records(tmp_path):
    pytest.importorskip("ladder._accel")
    from ladder.capture.pipeline import Pipeline

    path = tmp_path / "stream.pcap"
    path.write_bytes(pcap_bytes([(T0 + i * 20_000_000, rtp_frame(i, 0xABC)) for i in range(400)]))
    pipeline = Pipeline()
    with ingest.CaptureReader(str(path)) as reader:
        runs = [r[2] for r in reader.records(pipeline.accelerator()) if r[1] == ingest.ACCELERATED]
    # (records read without the pipeline: nothing is armed, so nothing is taken)
    assert runs == []
    pipeline = Pipeline()
    seen = []
    with ingest.CaptureReader(str(path)) as reader:
        def spy(records):
            for record in records:
                if record[1] == ingest.ACCELERATED:
                    seen.append(record[2])
                yield record
        pipeline.feed_records(spy(reader.records(pipeline.accelerator())))
    pipeline.finish()
    assert seen and all(isinstance(run, ingest.AcceleratedRun) for run in seen)
    assert sum(run.frames for run in seen) < 400 and seen[-1].last_ts_ns == T0 + 399 * 20_000_000
    assert pipeline.frame_classes == {"rtp": 400} and pipeline.first_ts_ns == T0


def test_json_text_escapes_what_a_terminal_acts_on_and_means_the_same():
    import json

    from ladder.textsafe import json_text, safe_lines

    value = {"k": "a\x1b[31m\x7f\x85\x9b\u200e\u200f\u202a\u202e\u2066\u2069\u2028\u2029é中"}
    text = json_text(value)
    assert not UNSAFE.search(text) and json.loads(text) == value
    assert "é中" in text  # printable text stays readable
    assert json_text(value, ensure_ascii=True) == json.dumps(value)  # ASCII mode escaped them all already
    assert safe_lines("F1 INVITE\x1b]0;t\x07\n\u202eF2 200\n") == "F1 INVITE\nF2 200\n"
