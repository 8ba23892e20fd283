"""The fast lane (``ladder.calls.simple_calls``) over TCP and UDP/IPv6: messages read back from
the spill file, endpoints of Python's (S1, S2). Crafted calls segmented as real stacks and
captures segment them; for each, which lane takes it and rows equal to the slow lane's."""

from __future__ import annotations

import gzip
import subprocess
import sys
from pathlib import Path

import pytest

from captures_crafted import ethernet, ipv4, ipv6, tcp, udp, write_pcap
from conftest import ROOT
from ladder.calls import simple_calls
from ladder.calls.bounded import iter_call_rows
from ladder.capture.loader import load_capture
from ladder.cli.calls import _numbered_dict, call_dict
from decoders.records import Endpoint
from test_simple_calls import _assert_same_rows, _bytes, _cancelling, _ends, _given, _simple, _taken

pytestmark = pytest.mark.skipif(simple_calls._c_simple_calls is None, reason="the compiled extension is not built")

MS = 1_000_000


def _ip(k: int, address: str, v6: bool) -> str:
    """Call k's address, or its IPv6 twin (2001:db8:k:0::1 for 10.k.0.1)."""
    if not v6:
        return address
    _, _, third, fourth = address.split(".")
    return f"2001:db8:{k}:{third}::{fourth}"


def _frame(payload: bytes, src: str, dst: str, sport: int, dport: int, seq: int | None) -> bytes:
    """One Ethernet frame: UDP when ``seq`` is None, else a TCP segment at ``seq``; IPv6 when the
    addresses are."""
    upper, proto = (udp(payload, sport, dport), 17) if seq is None else (tcp(payload, sport, dport, seq), 6)
    if ":" in src:
        return ethernet(ipv6(upper, src, dst, nxt=proto), ethertype=0x86DD)
    return ethernet(ipv4(upper, src, dst, proto=proto))


def _packets(k: int, messages: list[dict], over: str = "tcp", v6: bool = False, joined: frozenset[int] = frozenset(),
             split: frozenset[int] = frozenset(), swapped: frozenset[int] = frozenset(),
             resent: frozenset[int] = frozenset(), udp_from: int | None = None) -> list[tuple[int, bytes]]:
    """Call k's packets (``_bytes``, ``_ends`` of test_simple_calls, times ``(k * 100 s + t)``),
    each message in a segment of its own over ``over`` ("tcp" or "udp"), but message i of
    ``joined`` sent in one segment with message i + 1 (the same way); of ``split`` in two
    segments 1 ms apart; of ``swapped`` in two segments, the second captured first; of ``resent``
    whose segment TCP sends again 200 ms later (the same sequence number); from ``udp_from`` on,
    over UDP."""
    packets: list[tuple[int, bytes]] = []
    seq: dict[tuple[str, str], int] = {}
    i = 0
    while i < len(messages):
        m, n = messages[i], i
        src, dst, sport, dport = _ends(k, m)
        src, dst = _ip(k, src, v6), _ip(k, dst, v6)
        data, ts = _bytes(k, m), (k * 100_000 + m["t"]) * MS
        i += 1
        if n in joined:
            data += _bytes(k, messages[i])
            i += 1
        if over == "udp" or (udp_from is not None and n >= udp_from):
            packets.append((ts, _frame(data, src, dst, sport, dport, None)))
            continue
        at = seq.get((src, dst), 1000)
        seq[(src, dst)] = at + len(data)
        if n in split or n in swapped:
            half = len(data) // 2
            first, second = _frame(data[:half], src, dst, sport, dport, at), \
                _frame(data[half:], src, dst, sport, dport, at + half)
            if n in swapped:
                first, second = second, first
            packets += [(ts, first), (ts + MS, second)]
        else:
            packets.append((ts, _frame(data, src, dst, sport, dport, at)))
        if n in resent:
            packets.append((ts + 200 * MS, packets[-1][1]))
    return packets


def _write(path: Path, calls: dict[str, list[tuple[int, bytes]]]) -> dict[str, str]:
    packets = sorted((p for c in calls.values() for p in c), key=lambda p: p[0])
    write_pcap(path, packets)
    return {f"call-{k}@test": name for k, name in enumerate(calls, start=1)}


def _200_again(k: int) -> list[dict]:
    """The UAS core sends its 2xx again until the ACK comes, over any transport (RFC 3261
    §13.3.1.4): a retransmission to both lanes (``_repeats``), as over UDP."""
    s = _simple(k)
    return s[:4] + [dict(s[3], t=2500)] + [dict(m, t=m["t"] + 500) for m in s[4:]]


def _180_copied(k: int) -> list[dict]:
    """The 180 again 5 ms later (a new segment): a capture copy (S4)."""
    s = _simple(k)
    return s[:3] + [dict(s[2], t=105)] + s[3:]


def _calls() -> dict[str, list[tuple[int, bytes]]]:
    """name -> packets; the names the lane takes start with "taken"."""
    shapes: dict[str, tuple] = {
        "taken-one-message-a-segment": (_simple, {}),
        "taken-invite-split-over-two-segments": (_simple, dict(split=frozenset({0}))),
        "taken-200-split-out-of-order": (_simple, dict(swapped=frozenset({3}))),
        "taken-a-segment-sent-again": (_simple, dict(resent=frozenset({3}))),  # reassembly drops the copy
        "taken-200-sent-again": (_200_again, {}),
        "taken-cancelled": (lambda k: _simple(k)[:3] + list(_cancelling(k)), {}),
        "taken-over-ipv6-tcp": (_simple, dict(v6=True)),
        "taken-over-ipv6-udp": (_simple, dict(v6=True, over="udp")),
        # S3: the ACK and the BYE in one segment share its time
        "slow-ack-and-bye-in-one-segment": (_simple, dict(joined=frozenset({4}))),
        # S2: the INVITE over TCP, the rest over UDP: four endpoints
        "slow-invite-over-tcp-answers-over-udp": (_simple, dict(udp_from=1)),
        "slow-a-copy": (_180_copied, {}),
    }
    return {name: _packets(k, make(k), **how) for k, (name, (make, how)) in enumerate(shapes.items(), start=1)}


def test_calls_over_tcp_and_ipv6_take_the_lane_with_the_slow_lanes_rows(tmp_path, monkeypatch):
    calls = _calls()
    names = _write(tmp_path / "tcp.pcap", calls)
    capture = load_capture(str(tmp_path / "tcp.pcap"), media=False, messages=False, locate=True)
    taken, given = _taken(monkeypatch), _given(monkeypatch)
    rows = {names[row["id"]]: row for row in iter_call_rows(capture, call_dict, _numbered_dict)}
    assert sorted(rows) == sorted(calls)
    assert sorted(names[cid] for cid in taken) == sorted(name for name in calls if name.startswith("taken"))
    # the spill file holds the TCP and IPv6 messages (reassembled; the IPv6 ones of Python's reader)
    store = capture.message_store
    assert sum(where < 0 for where in store.where) >= 7 * len(calls) - 14
    got = {name: (row["outcome_text"], row["setup_time"], row["talk_time"], row["messages"])
           for name, row in rows.items()}
    assert got["taken-one-message-a-segment"] == ("completed", 2.0, 28.0, 7)
    assert got["taken-a-segment-sent-again"] == ("completed", 2.0, 28.0, 7)
    assert got["taken-200-sent-again"] == ("completed", 2.0, 28.5, 8)
    assert got["taken-cancelled"] == ("cancelled", None, None, 7)
    assert got["slow-ack-and-bye-in-one-segment"][3] == 7
    # the legs given to the links: their endpoints the store's, transport and all
    ends = {names[leg[0]]: (leg[2], leg[3]) for leg in given}
    for name, k, transport in (("taken-over-ipv6-tcp", 7, "tcp"), ("taken-over-ipv6-udp", 8, "udp")):
        assert ends[name] == (Endpoint(f"2001:db8:{k}::1", 5060, transport),
                              Endpoint(f"2001:db8:{k}:1::1", 5060, transport))
    assert ends["taken-one-message-a-segment"] == (Endpoint("10.1.0.1", 5060, "tcp"), Endpoint("10.1.1.1", 5060, "tcp"))
    monkeypatch.undo()
    assert _assert_same_rows(tmp_path / "tcp.pcap", monkeypatch) == (len(calls), len(
        [name for name in calls if name.startswith("taken")]))


def test_the_heplify_tcp_captures_calls_take_the_lane(corpus, monkeypatch):
    """Real SIP over TCP (heplify's captures): rows unchanged; the call of sip_ipv4_tcp.pcap
    (INVITE/100/180/200/ACK/BYE/200 over one connection, RFC 3665 §3.1's shape) is the lane's."""
    paths = {p.name: p for p in corpus.paths if p.name.startswith("sip_ipv4_tcp")}
    if "sip_ipv4_tcp.pcap" not in paths:
        pytest.skip("heplify's TCP capture is not in this corpus")
    found = {name: _assert_same_rows(path, monkeypatch) for name, path in paths.items()}
    assert found["sip_ipv4_tcp.pcap"] == (1, 1)


def test_a_busy_hours_mix_over_tcp_goes_through_the_lane(tmp_path, monkeypatch):
    """``bench/make_sip_capture.py --mix --tcp``: the busy hour's shapes over TCP connections
    (each message a segment, read back from the spill file), every call the lane's, rows the
    slow lane's; the 2xx and INVITEs sent again are retransmissions to both lanes."""
    path = tmp_path / "mix-tcp.pcap"
    subprocess.run([sys.executable, str(ROOT / "bench" / "make_sip_capture.py"), str(path), "--calls", "200",
                    "--concurrent", "20", "--mix", "--tcp"], check=True, capture_output=True)
    assert _assert_same_rows(path, monkeypatch) == (200, 200)
    capture = load_capture(str(path), media=False, messages=False, locate=True)
    store = capture.message_store
    assert all(where < 0 for where in store.where)
    assert {store.endpoint(i).transport for i in set(store.src)} == {"tcp"}


def test_hostile_columns_of_the_spill_file_and_pythons_endpoints_send_groups_to_the_slow_lane(tmp_path):
    """C trusts no column: a spill offset past the file's end or at the most negative value, no
    spill file, an endpoint id of Python's beyond its table or of a transport it does not take,
    a group of C's and Python's endpoints: None for the group, never a read outside a buffer
    (the sanitized fuzzer drives the same reads with hostile bytes)."""
    from array import array

    from ladder.calls.bounded import _Groups
    from ladder.capture.messagestore import C_ENDPOINT

    path = tmp_path / "one.pcap"
    _write(path, {"call": _packets(1, _simple(1))})
    capture = load_capture(str(path), media=False, messages=False, locate=True)
    store = capture.message_store
    lane = simple_calls.SimpleLane(capture, store, _Groups(capture))
    groups, columns = lane._groups, list(lane._columns)
    c_simple_calls = simple_calls._c_simple_calls
    assert c_simple_calls is not None

    def facts(spill: int = store.spill_fd(), **changed) -> object:
        given = list(columns)
        for name, value in changed.items():  # (SimpleLane's columns: where 0, src 3, usable 9)
            given[{"where": 0, "src": 3, "usable": 9}[name]] = value
        fd = -1 if lane._fd is None else lane._fd
        (found,) = c_simple_calls(fd, spill, tuple(given), groups.members, groups.starts, 0, b"\1")
        return found

    assert facts() is not None  # as it is: the lane's
    n = len(store)
    assert facts(where=array("q", [-(2**63)] * n)) is None
    assert facts(where=array("q", [-1 - (1 << 40)] * n)) is None
    assert facts(spill=-1) is None
    assert facts(usable=b"") is None and facts(usable=b"\1") is None
    assert facts(usable=bytes(len(columns[9]))) is None  # (as for an endpoint over TLS or SCTP)
    mixed = array("I", store.src)
    mixed[0] = C_ENDPOINT
    assert facts(src=mixed) is None
    lane.close()


def test_a_gzipped_capture_goes_through_the_lane(tmp_path, monkeypatch):
    """A gzip file has no offsets to read back: every message is in the spill file, of Python's
    endpoints (UDP/IPv4 here), and the lane takes its calls with the slow lane's rows."""
    path = tmp_path / "mix.pcap"
    subprocess.run([sys.executable, str(ROOT / "bench" / "make_sip_capture.py"), str(path), "--calls", "100",
                    "--concurrent", "10", "--mix"], check=True, capture_output=True)
    zipped = tmp_path / "mix.pcap.gz"
    zipped.write_bytes(gzip.compress(path.read_bytes()))
    assert _assert_same_rows(zipped, monkeypatch) == (100, 100)
    store = load_capture(str(zipped), media=False, messages=False, locate=True).message_store
    assert store.path is None and all(where < 0 for where in store.where)
