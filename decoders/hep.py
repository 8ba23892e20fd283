"""HEP, the Homer Encapsulation Protocol: captured packets forwarded by capture agents
(heplify, Kamailio/OpenSIPS sipcapture, FreeSWITCH, Asterisk res_hep) to a collector.

API::

    looks_like_hep(payload) -> bool      # cheap: "HEP3" magic, or a plausible v1/v2 header
    parse_hep(payload) -> HepPacket      # raises DecodeError (reasons "hep-truncated", "malformed-hep")
    decode_hep                           # the same function, under the name the pipeline uses

* HEP v1/v2 (binary, Kamailio ``struct hep_hdr``): version, header length, address family
  (2 = IPv4, 10 = IPv6), IP protocol, source/destination ports (network order), addresses; v2
  then adds ``struct hep_timehdr``: seconds, microseconds, capture id, written in the agent's
  byte order, which in practice is little-endian (as Wireshark's HEP dissector assumes).
* HEP v3: ``HEP3`` + total length, then chunks ``vendor(2) type(2) length(2, header included)``.
  Vendor-0 types: 1 IP family, 2 IP protocol, 3/4 IPv4 src/dst, 5/6 IPv6 src/dst, 7/8 ports,
  9/10 seconds/microseconds, 11 protocol type (1 = SIP, 5 = RTCP, 100 = log ...), 12 capture
  agent id, 13 keep-alive timer, 14 authentication key, 15 payload, 16 compressed payload
  (zlib; gzip and raw deflate are tried too, as agents differ), 17 correlation id. Other
  vendors' chunks and unknown types are skipped.
"""

from __future__ import annotations

import socket
import struct
import zlib
from dataclasses import dataclass

from decoders.errors import Malformed, Truncated
from decoders.records import Endpoint

PROTO_TYPE_SIP = 1
PROTO_TYPE_RTCP = 5

_TRANSPORTS = {6: "tcp", 17: "udp", 132: "sctp"}
_FAMILY_V4 = 2
_FAMILY_V6 = 10
_V3_HEADER = struct.Struct("!4sH")
_V3_CHUNK = struct.Struct("!HHH")
_V12_HEADER = struct.Struct("!BBBBHH")  # version, header length, family, protocol, sport, dport
_V2_TIME = struct.Struct("<IIH")  # seconds, microseconds, capture id (agent byte order: little-endian)
_V2_TIME_SIZE = 12  # sizeof(struct hep_timehdr) with its trailing padding
MAX_PAYLOAD = 16 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class HepPacket:
    """One HEP packet: the captured message and where it went, as the agent saw it."""

    version: int
    src: Endpoint
    dst: Endpoint
    ts_ns: int | None  # None when the agent sent no timestamp (use the frame's time)
    proto_type: int  # 1 = SIP; HEP v1/v2 carry only SIP, so 1 there
    payload: bytes
    capture_id: int | None
    correlation_id: str | None = None

    # Flat views of the endpoints (ladder/capture/pipeline.py reads these).
    @property
    def src_ip(self) -> str:
        return self.src.ip

    @property
    def src_port(self) -> int:
        return self.src.port

    @property
    def dst_ip(self) -> str:
        return self.dst.ip

    @property
    def dst_port(self) -> int:
        return self.dst.port

    @property
    def transport(self) -> str:
        return self.src.transport


def looks_like_hep(payload: bytes) -> bool:
    """Cheap check before ``parse_hep``: magic for v3, a coherent fixed header for v1/v2."""
    if payload[:4] == b"HEP3":
        return True
    if len(payload) < _V12_HEADER.size or payload[0] not in (1, 2):
        return False
    header_length, family, protocol = payload[1], payload[2], payload[3]
    expected = {_FAMILY_V4: 16, _FAMILY_V6: 40}.get(family)
    return expected == header_length and protocol in _TRANSPORTS and len(payload) > header_length


def _ip_text(raw: bytes) -> str:
    return socket.inet_ntop(socket.AF_INET6 if len(raw) == 16 else socket.AF_INET, raw)


def _inflate(data: bytes) -> bytes:
    """Chunk 16: zlib-wrapped, gzip or raw deflate, whichever decodes."""
    order = (zlib.MAX_WBITS, zlib.MAX_WBITS | 16, -zlib.MAX_WBITS)
    if data[:2] == b"\x1f\x8b":  # gzip magic: try it first
        order = (zlib.MAX_WBITS | 16, zlib.MAX_WBITS, -zlib.MAX_WBITS)
    for wbits in order:
        inflater = zlib.decompressobj(wbits)
        try:
            result = inflater.decompress(data, MAX_PAYLOAD)
        except zlib.error:
            continue
        if inflater.unconsumed_tail:
            raise Malformed(f"compressed HEP payload inflates beyond {MAX_PAYLOAD} bytes", reason="malformed-hep")
        if not inflater.eof and wbits > 0:
            continue  # a cut zlib/gzip stream; raw deflate may legitimately lack a final block
        return result
    raise Malformed("HEP chunk 16 is neither zlib, gzip nor raw deflate data", reason="malformed-hep")


def _parse_v3(payload: bytes) -> HepPacket:
    if len(payload) < _V3_HEADER.size:
        raise Truncated("HEP3 header needs 6 bytes", reason="hep-truncated")
    _magic, total = _V3_HEADER.unpack_from(payload)
    if total < _V3_HEADER.size:
        raise Malformed(f"HEP3 total length {total} is below the header size", reason="malformed-hep")
    if total > len(payload):
        raise Truncated(f"HEP3 packet announces {total} bytes, {len(payload)} captured", reason="hep-truncated")
    fields: dict[int, bytes] = {}
    position = _V3_HEADER.size
    while position < total:
        if total - position < _V3_CHUNK.size:
            raise Truncated("HEP3 chunk header cut short", reason="hep-truncated")
        vendor, chunk_type, length = _V3_CHUNK.unpack_from(payload, position)
        if length < _V3_CHUNK.size:
            raise Malformed(f"HEP3 chunk length {length} is below 6", reason="malformed-hep")
        if position + length > total:
            raise Truncated(f"HEP3 chunk type {chunk_type} runs past the packet end", reason="hep-truncated")
        if vendor == 0:
            fields.setdefault(chunk_type, payload[position + _V3_CHUNK.size : position + length])
        position += length
    return _packet_from_chunks(fields)


def _uint(fields: dict[int, bytes], chunk_type: int, size: int) -> int | None:
    raw = fields.get(chunk_type)
    if raw is None:
        return None
    if len(raw) != size:
        raise Malformed(f"HEP3 chunk type {chunk_type} has {len(raw)} bytes, expected {size}", reason="malformed-hep")
    return int.from_bytes(raw, "big")


def _address(fields: dict[int, bytes], v4_type: int, v6_type: int) -> str:
    for chunk_type, size in ((v4_type, 4), (v6_type, 16)):
        raw = fields.get(chunk_type)
        if raw is not None:
            if len(raw) != size:
                raise Malformed(f"HEP3 address chunk {chunk_type} has {len(raw)} bytes", reason="malformed-hep")
            return _ip_text(raw)
    raise Malformed(f"HEP3 packet has no address chunk {v4_type} or {v6_type}", reason="malformed-hep")


def _packet_from_chunks(fields: dict[int, bytes]) -> HepPacket:
    if 15 in fields:
        body = fields[15]
    elif 16 in fields:
        body = _inflate(fields[16])
    else:
        raise Malformed("HEP3 packet has no payload chunk (15 or 16)", reason="malformed-hep")
    transport = _TRANSPORTS.get(_uint(fields, 2, 1) or 17, "udp")
    src_port = _uint(fields, 7, 2) or 0
    dst_port = _uint(fields, 8, 2) or 0
    seconds = _uint(fields, 9, 4)
    micros = _uint(fields, 10, 4) or 0
    ts_ns = seconds * 1_000_000_000 + micros * 1_000 if seconds is not None else None
    correlation = fields.get(17)
    return HepPacket(
        version=3,
        src=Endpoint(_address(fields, 3, 5), src_port, transport),
        dst=Endpoint(_address(fields, 4, 6), dst_port, transport),
        ts_ns=ts_ns,
        proto_type=_uint(fields, 11, 1) or 0,
        payload=body,
        capture_id=_uint(fields, 12, 4),
        correlation_id=correlation.decode("utf-8", "replace") if correlation is not None else None,
    )


def _parse_v12(payload: bytes) -> HepPacket:
    if len(payload) < _V12_HEADER.size:
        raise Truncated("HEP v1/v2 header needs 8 bytes", reason="hep-truncated")
    version, header_length, family, protocol, src_port, dst_port = _V12_HEADER.unpack_from(payload)
    size = {_FAMILY_V4: 4, _FAMILY_V6: 16}.get(family)
    if size is None:
        raise Malformed(f"HEP v{version} address family {family} is neither 2 (IPv4) nor 10 (IPv6)", reason="malformed-hep")
    if header_length != _V12_HEADER.size + 2 * size:
        raise Malformed(f"HEP v{version} header length {header_length} does not fit family {family}", reason="malformed-hep")
    body_start = header_length + (_V2_TIME_SIZE if version == 2 else 0)
    if len(payload) < body_start:
        raise Truncated(f"HEP v{version} packet ends inside its {body_start}-byte header", reason="hep-truncated")
    src_ip = _ip_text(payload[_V12_HEADER.size : _V12_HEADER.size + size])
    dst_ip = _ip_text(payload[_V12_HEADER.size + size : header_length])
    ts_ns = capture_id = None
    if version == 2:
        seconds, micros, capture_id = _V2_TIME.unpack_from(payload, header_length)
        ts_ns = seconds * 1_000_000_000 + micros * 1_000
    transport = _TRANSPORTS.get(protocol, "udp")
    return HepPacket(
        version=version,
        src=Endpoint(src_ip, src_port, transport),
        dst=Endpoint(dst_ip, dst_port, transport),
        ts_ns=ts_ns,
        proto_type=PROTO_TYPE_SIP,
        payload=payload[body_start:],
        capture_id=capture_id,
    )


def parse_hep(payload: bytes) -> HepPacket:
    """Decode one HEP packet (v1, v2 or v3)."""
    payload = bytes(payload)
    if payload[:4] == b"HEP3":
        return _parse_v3(payload)
    if payload[:1] in (b"\x01", b"\x02"):
        return _parse_v12(payload)
    raise Malformed(f"{payload[:4]!r} is neither HEP3 nor a HEP v1/v2 header", reason="malformed-hep")


# The name ladder/capture/pipeline.py imports; parse_hep is the documented one.
decode_hep = parse_hep
