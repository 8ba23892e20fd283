"""decoders.sip on the real captures of ../shared, with tshark's counts as the oracle.

For every capture whose SIP travels in plain UDP datagrams (no tunnels, fragments or streams;
those belong to the reassembly tests), each UDP payload that ``looks_like_sip`` is parsed, and
the requests, responses, methods, status codes and Call-IDs must equal what tshark counted
(``manifest.json``). dpkt unwraps the frames here so this test depends on no other decoder.
"""

from __future__ import annotations

from collections import Counter

import re
import subprocess

import dpkt
import pytest

from conftest import require_tool, shared_manifest, shared_path
from decoders.errors import DecodeError
from decoders.sip import looks_like_sip, parse_sip

# Carried in ways only the pipeline's own decoders unwrap.
_WRAPPED = {"gre", "ip-in-ip", "pppoes", "ipv6.fraghdr", "websocket"}


def _plain_udp_sip_captures() -> list[dict]:
    return [
        entry
        for entry in shared_manifest()
        if entry["file_format"] in ("pcap", "pcapng")
        and entry.get("sip_transport") == ["udp"]
        and not _WRAPPED & set(entry["protocols_seen"])
        and entry["ipv4_fragments"] == 0
        and entry["ipv6_fragments"] == 0
    ]


def _network_layer(linktype: int, frame: bytes):
    if linktype == 1:
        return dpkt.ethernet.Ethernet(frame).data
    if linktype == 113:
        return dpkt.sll.SLL(frame).data
    if linktype == 0:
        return dpkt.loopback.Loopback(frame).data
    if linktype in (12, 101, 228, 229):
        return dpkt.ip.IP(frame) if frame[:1] and frame[0] >> 4 == 4 else dpkt.ip6.IP6(frame)
    raise AssertionError(f"link type {linktype} is not expected in this corpus selection")


def _udp_payloads(path) -> list[bytes]:
    payloads = []
    with open(path, "rb") as handle:
        magic = handle.read(4)
        handle.seek(0)
        reader = dpkt.pcapng.Reader(handle) if magic == b"\x0a\x0d\x0d\x0a" else dpkt.pcap.Reader(handle)
        linktype = reader.datalink()
        for _, frame in reader:
            try:
                ip = _network_layer(linktype, frame)
            except dpkt.dpkt.Error:
                continue  # a frame dpkt cannot unwrap (cut short, odd type); SIP counts still tell

            transport = getattr(ip, "data", None)
            # An ICMP error quotes the datagram it refers to; tshark counts the SIP inside it.
            if isinstance(transport, dpkt.icmp.ICMP) and transport.type == 3:
                quoted = transport.data.data
                transport = quoted.data if isinstance(quoted, dpkt.ip.IP) else None
            if isinstance(transport, dpkt.udp.UDP):
                payloads.append(bytes(transport.data))
    return payloads


def test_corpus_selection_is_not_empty():
    names = {entry["file"] for entry in _plain_udp_sip_captures()}
    assert len(names) >= 30
    assert "captures/heplify/sip_ipv6_udp.pcap" in names


@pytest.mark.parametrize("entry", _plain_udp_sip_captures(), ids=lambda entry: entry["file"].split("/", 1)[1])
def test_sip_counts_match_tshark(entry):
    path = shared_path(entry["file"])
    requests = responses = 0
    methods: Counter[str] = Counter()
    statuses: Counter[str] = Counter()
    call_ids: set[str] = set()
    errors: list[str] = []
    for payload in _udp_payloads(path):
        if not looks_like_sip(payload):
            continue
        try:
            msg = parse_sip(payload)
        except DecodeError as error:
            errors.append(str(error))
            continue
        if msg.is_request:
            requests += 1
            methods[msg.method] += 1
        else:
            responses += 1
            statuses[str(msg.status)] += 1
        if msg.call_id is not None:
            call_ids.add(msg.call_id)
    assert errors == []
    assert (requests, responses) == (entry["sip_requests"], entry["sip_responses"])
    assert dict(methods) == entry["methods"]
    assert dict(statuses) == entry["status_codes"]
    assert call_ids == set(entry["call_id_list"])


def test_real_world_leniencies_are_reported():
    # A phone that writes IPv6 addresses without brackets, in the Request-URI and in Via.
    payloads = [p for p in _udp_payloads(shared_path("captures/heplify/sip_ipv6_udp.pcap")) if looks_like_sip(p)]
    invite = parse_sip(payloads[0])
    assert invite.method == "INVITE"
    assert invite.top_via.host == "[fe80::21a:a0ff:fe07:32e0]" and invite.top_via.port == 5060
    assert "Via sent-by: IPv6 address is not in brackets (RFC 3261 §25.1 IPv6reference)" in invite.problems
    # Content-Length values that are not numbers (zeek's invalid-content-length.pcap).
    payloads = _udp_payloads(shared_path("captures/zeek/invalid-content-length.pcap"))
    problems = [p for payload in payloads if looks_like_sip(payload) for p in parse_sip(payload).problems]
    assert "Content-Length 'bad' is not a non-negative integer (RFC 3261 §20.14)" in problems
    assert "Content-Length 'xyz' is not a non-negative integer (RFC 3261 §20.14)" in problems


def _manifest_method(name: str) -> tuple[str, int]:
    # The manifest shortens long methods to their first 40 characters + "...(len=N)".
    match = re.fullmatch(r"(.{40})\.\.\.\(len=(\d+)\)", name)
    return (match.group(1), int(match.group(2))) if match else (name, len(name))


def test_protos_c07_fuzzed_methods_match_tshark():
    # A NetMon 2 file dpkt cannot read: tshark hands us each UDP payload as hex.
    tshark = require_tool("tshark")
    path = shared_path("captures/wireshark-wiki/c07-sip-r2.cap")
    entry = next(e for e in shared_manifest() if e["file"] == "captures/wireshark-wiki/c07-sip-r2.cap")
    result = subprocess.run(
        [tshark, "-r", str(path), "-T", "fields", "-e", "udp.payload"],
        capture_output=True, text=True, check=True, timeout=120,
    )  # fmt: skip
    payloads = [bytes.fromhex(line) for line in result.stdout.split()]
    assert len(payloads) == entry["packets"] == 39
    methods: Counter[tuple[str, int]] = Counter()
    for payload in payloads:
        if looks_like_sip(payload):
            msg = parse_sip(payload)  # every one of them parses, up to the 4099-letter method
            methods[(msg.method[:40], len(msg.method))] += 1
    assert methods == Counter({_manifest_method(name): n for name, n in entry["methods"].items()})
    assert sum(methods.values()) == entry["sip_requests"] == 12
