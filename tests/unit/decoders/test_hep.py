"""HEP v1/v2/v3 (decoders/hep.py) on the hep-wireshark captures and crafted packets."""

from __future__ import annotations

import gzip
import re
import socket
import struct
import zlib
from collections import Counter

import dpkt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from decoders.errors import DecodeError, Malformed, Truncated
from decoders.hep import PROTO_TYPE_SIP, looks_like_hep, parse_hep
from decoders.records import Endpoint
from conftest import shared_manifest, shared_path
from test_sipframing import rfc3665_messages
from test_tcpstreams import method_of, network_packets

_CALL_ID = re.compile(rb"^(?:Call-ID|i)[ \t]*:[ \t]*(\S+)", re.IGNORECASE | re.MULTILINE)


def udp_payloads(path):
    for frame, ip in network_packets(path):
        if isinstance(ip, (dpkt.ip.IP, dpkt.ip6.IP6)) and isinstance(ip.data, dpkt.udp.UDP):
            yield frame, bytes(ip.data.data)


def hep_entry(name: str) -> dict:
    return next(e for e in shared_manifest() if e["file"] == f"captures/hep-wireshark/{name}")["hep_decoded"]


def chunk(chunk_type: int, data: bytes, vendor: int = 0) -> bytes:
    return struct.pack("!HHH", vendor, chunk_type, 6 + len(data)) + data


def hep3(*chunks: bytes) -> bytes:
    body = b"".join(chunks)
    return b"HEP3" + struct.pack("!H", 6 + len(body)) + body


def ipv4_chunks(payload_chunk: bytes) -> list[bytes]:
    return [
        chunk(1, b"\x02"), chunk(2, b"\x11"),
        chunk(3, socket.inet_aton("10.0.0.1")), chunk(4, socket.inet_aton("10.0.0.2")),
        chunk(7, struct.pack("!H", 5060)), chunk(8, struct.pack("!H", 5080)),
        chunk(9, struct.pack("!I", 1_700_000_000)), chunk(10, struct.pack("!I", 250_000)),
        chunk(11, b"\x01"), chunk(12, struct.pack("!I", 2001)),
        payload_chunk,
    ]


@pytest.mark.shared
def test_hep3_capture():
    expected = hep_entry("hep.pcap")
    packets = [parse_hep(payload) for _, payload in udp_payloads(shared_path("captures/hep-wireshark/hep.pcap"))]
    assert len(packets) == expected["hep_packets"]
    assert Counter(str(p.proto_type) for p in packets) == expected["hep_payload_types"]
    sip = [p for p in packets if p.proto_type == PROTO_TYPE_SIP]
    assert len(sip) == expected["sip_messages"]
    assert len({_CALL_ID.search(p.payload).group(1) for p in sip}) == expected["call_ids"]
    requests = Counter(method_of(p.payload) for p in sip if not p.payload.startswith(b"SIP/2.0"))
    statuses = Counter(method_of(p.payload) for p in sip if p.payload.startswith(b"SIP/2.0"))
    assert requests == expected["methods"] and statuses == expected["status_codes"]
    first = sip[0]
    assert (first.version, first.src, first.dst) == (3, Endpoint("192.168.1.1", 5060, "udp"), Endpoint("192.168.1.2", 5060, "udp"))
    assert first.ts_ns == 1481455196_000100_000 and first.capture_id == 2001
    assert first.correlation_id == "qgf3dm9rudi@127.0.0.1"


@pytest.mark.shared
def test_hep3_compressed_payload_chunks():
    expected = hep_entry("hep3_compressed.pcap.pcapng")
    raw = [payload for _, payload in udp_payloads(shared_path("captures/hep-wireshark/hep3_compressed.pcap.pcapng"))]
    assert all(looks_like_hep(payload) for payload in raw)
    # These packets carry the SIP text only inside a chunk of type 16 (compressed payload).
    assert all(b"\x00\x00\x00\x10" in payload and b"SIP/2.0" not in payload for payload in raw)
    packets = [parse_hep(payload) for payload in raw]
    assert len(packets) == expected["sip_messages"] == 21
    assert all(p.proto_type == PROTO_TYPE_SIP and p.src.transport == "tcp" for p in packets)
    requests = Counter(method_of(p.payload) for p in packets if not p.payload.startswith(b"SIP/2.0"))
    statuses = Counter(method_of(p.payload) for p in packets if p.payload.startswith(b"SIP/2.0"))
    assert requests == expected["methods"] and statuses == expected["status_codes"]
    assert len({_CALL_ID.search(p.payload).group(1) for p in packets}) == expected["call_ids"]


@pytest.mark.parametrize(
    "compress",
    [zlib.compress, gzip.compress, lambda data: zlib.compress(data)[2:-4]],  # zlib, gzip, raw deflate
    ids=["zlib", "gzip", "raw-deflate"],
)
def test_compressed_payload_variants(compress):
    message = rfc3665_messages()[7]
    packet = parse_hep(hep3(*ipv4_chunks(chunk(16, compress(message)))))
    assert packet.payload == message
    assert packet.src == Endpoint("10.0.0.1", 5060, "udp") and packet.dst == Endpoint("10.0.0.2", 5080, "udp")
    assert packet.ts_ns == 1_700_000_000_250_000_000 and packet.capture_id == 2001


def test_ipv6_other_vendor_chunks_and_trailing_bytes():
    message = rfc3665_messages()[0]
    packet = hep3(
        chunk(1, b"\x0a"), chunk(2, b"\x06"),
        chunk(5, socket.inet_pton(socket.AF_INET6, "2001:db8::1")),
        chunk(6, socket.inet_pton(socket.AF_INET6, "2001:db8::2")),
        chunk(7, struct.pack("!H", 5061)), chunk(8, struct.pack("!H", 5060)),
        chunk(3, b"junk", vendor=0x0021),  # a vendor's private chunk: skipped
        chunk(11, b"\x01"), chunk(15, message),
    )
    parsed = parse_hep(packet + b"trailing")  # bytes after the announced length are not HEP
    assert parsed.src == Endpoint("2001:db8::1", 5061, "tcp")
    assert parsed.payload == message and parsed.ts_ns is None


def hep2(message: bytes, version: int = 2, ipv6: bool = False) -> bytes:
    family, size = (10, 16) if ipv6 else (2, 4)
    src = socket.inet_pton(socket.AF_INET6 if ipv6 else socket.AF_INET, "2001:db8::a" if ipv6 else "192.0.2.10")
    dst = socket.inet_pton(socket.AF_INET6 if ipv6 else socket.AF_INET, "2001:db8::b" if ipv6 else "192.0.2.20")
    header = struct.pack("!BBBBHH", version, 8 + 2 * size, family, 17, 5060, 5070) + src + dst
    if version == 2:
        header += struct.pack("<IIHxx", 1_600_000_000, 123_456, 7)  # struct hep_timehdr, host order
    return header + message


@pytest.mark.parametrize("ipv6", [False, True])
def test_hep_v2(ipv6):
    message = rfc3665_messages()[4]
    raw = hep2(message, ipv6=ipv6)
    assert looks_like_hep(raw)
    packet = parse_hep(raw)
    assert packet.version == 2 and packet.payload == message
    assert packet.src.port == 5060 and packet.dst.port == 5070
    assert packet.src.ip == ("2001:db8::a" if ipv6 else "192.0.2.10")
    assert packet.ts_ns == 1_600_000_000_123_456_000 and packet.capture_id == 7
    # The flat views the pipeline reads.
    assert (packet.src_ip, packet.src_port, packet.dst_port, packet.transport) == (packet.src.ip, 5060, 5070, "udp")


def test_hep_v1_has_no_timestamp():
    message = rfc3665_messages()[4]
    packet = parse_hep(hep2(message, version=1))
    assert packet.version == 1 and packet.ts_ns is None and packet.payload == message


def test_sip_and_rtp_are_not_hep():
    assert not looks_like_hep(rfc3665_messages()[0])
    assert not looks_like_hep(bytes.fromhex("80000001000000a0deadbeef") + b"\x00" * 160)
    with pytest.raises(Malformed):
        parse_hep(b"INVITE sip:a@b SIP/2.0\r\n")


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        (b"HEP3\x00", Truncated),
        (b"HEP3\x00\x40" + b"\x00" * 10, Truncated),  # announces 64 bytes
        (hep3(struct.pack("!HHH", 0, 15, 3)), Malformed),  # chunk length below 6
        (hep3(*ipv4_chunks(chunk(16, b"not compressed at all"))), Malformed),
        (hep3(chunk(3, b"\x01\x02\x03\x04"), chunk(4, b"\x01\x02\x03\x04")), Malformed),  # no payload
        (hep3(chunk(3, b"\x01\x02\x03"), chunk(4, b"\x01\x02\x03\x04"), chunk(15, b"x")), Malformed),
        (hep3(chunk(15, b"x")), Malformed),  # no addresses
        (hep2(b"x")[:20], Truncated),
        (bytes([2, 16, 7, 17]) + b"\x00" * 30, Malformed),  # unknown family
    ],
)
def test_broken_packets_raise(raw, error):
    with pytest.raises(error) as caught:
        parse_hep(raw)
    assert caught.value.reason in ("hep-truncated", "malformed-hep")


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.binary(max_size=200), st.binary(max_size=200).map(lambda data: b"HEP3" + data),
                 st.binary(max_size=60).map(lambda data: bytes([2, 16, 2, 17]) + data)))
def test_any_bytes_give_a_packet_or_a_decode_error(data):
    try:
        packet = parse_hep(data)
    except DecodeError as error:
        assert error.reason in ("hep-truncated", "malformed-hep")
        return
    assert packet.version in (1, 2, 3)
