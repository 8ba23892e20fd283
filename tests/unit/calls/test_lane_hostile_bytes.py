"""Hostile bytes on the way to ``ladder calls``' fast lane (``_accel.simple_calls`` and the first
pass it rests on), found by ``tests/fuzz_simple_calls.py`` under ASan/UBSan: each a crafted
capture whose rows must be the same with the lane on and off, and never a traceback."""

from __future__ import annotations

import os

import pytest

from captures_crafted import udp_sip_frame, write_pcap
from decoders.sip import parse_sip
from decoders.sipscan import scan_sip
from ladder.calls.bounded import iter_call_rows
from ladder.capture.loader import load_capture
from ladder.cli.calls import _numbered_dict, call_dict
from ladder.errors import CaptureError
from tests.unit.calls.test_simple_calls import _assert_same_rows, _bytes, _ends, _simple, _taken

accel = pytest.importorskip("ladder._accel")


def _call_pcap(path, change=lambda i, data: data):
    """One simple call (test_simple_calls' shape) with ``change(i, bytes)`` applied to message i."""
    packets = []
    for i, m in enumerate(_simple(1)):
        src, dst, sport, dport = _ends(1, m)
        packets.append(((100_000 + m["t"]) * 1_000_000, udp_sip_frame(change(i, _bytes(1, m)), src, dst, sport, dport)))
    write_pcap(path, packets)
    return path


NOT_TOKENS = [
    (b";branch=", b";br@nch=1;branch="),  # a Via parameter name that is not a token
    (b"SIP/2.0/UDP", b"SIP/2.0/U@P"),  # a Via transport that is not a token
    (b"SIP/2.0/UDP ", b"SIP/2.0/ "),  # no transport (parse_sip reads the sent-by as one)
]


@pytest.mark.parametrize("old, new", NOT_TOKENS + [
    (b">;tag=f1", b">;t@g=1;tag=f1"),  # a From parameter name that is not a token
])
def test_the_first_pass_leaves_a_value_parse_sip_refuses_to_it(old, new):
    message = _bytes(1, _simple(1)[1]).replace(old, new)
    assert new in message
    # RFC 3261 §25.1 generic-param: parse_sip refuses the whole value (no top Via, no From tag) ...
    assert any("is not a token" in problem for problem in parse_sip(message).problems)  # (§25.1, §20.42)
    # ... so neither first pass may answer with a branch or tag the full parse does not have
    assert scan_sip(message) is None
    assert accel.scan_sip(message) is None


@pytest.mark.parametrize("old, new", NOT_TOKENS)
def test_a_via_parse_sip_refuses_is_not_a_traceback(tmp_path, monkeypatch, old, new):
    """The 100's top Via has ``;br@nch=1`` (or a transport that is not a token): the first pass
    read its sent-by, parse_sip refused the Via, and transactions asked the missing Via's
    transport (AttributeError, in both lanes)."""
    path = _call_pcap(tmp_path / "via.pcap", lambda i, data: data.replace(old, new, 1) if i == 1 else data)
    assert _assert_same_rows(path, monkeypatch) == (1, 0)  # one call, for the slow lane


@pytest.mark.parametrize("size", [0, 24, 700, -1])
def test_a_capture_cut_short_after_loading_is_an_error_in_both_lanes(tmp_path, monkeypatch, size):
    """simple_calls reads messages back by offset: past the new end it must fail and leave the
    call to the slow lane, which reports the change."""
    path = _call_pcap(tmp_path / "cut.pcap")
    errors = []
    for lane_off in (False, True):
        capture = load_capture(str(path), media=False, messages=False, locate=True)
        whole = path.read_bytes()
        os.truncate(path, size if size >= 0 else len(whole) - 1)
        if lane_off:
            monkeypatch.setenv("PCAPLADDER_NO_SIMPLE_CALLS", "1")
        taken = _taken(monkeypatch)
        with pytest.raises(CaptureError, match="changed") as raised:
            list(iter_call_rows(capture, call_dict, _numbered_dict))
        assert taken == []
        errors.append(str(raised.value))
        monkeypatch.undo()
        path.write_bytes(whole)
    assert errors[0] == errors[1]
