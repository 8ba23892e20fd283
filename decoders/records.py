"""Small frozen records shared by every layer: where a packet went, which frames carried it,
and what could not be decoded."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from decoders.quick_init import quick_init

T = TypeVar("T")


@quick_init
@dataclass(frozen=True, slots=True)
class Endpoint:
    """One transport address: ``ip`` as text (IPv6 compressed), ``transport`` lower case
    (udp, tcp, tls, ws, wss, sctp)."""

    ip: str
    port: int
    transport: str = "udp"

    def address(self) -> str:
        """``ip:port``, with IPv6 in brackets."""
        host = f"[{self.ip}]" if ":" in self.ip else self.ip
        return f"{host}:{self.port}"

    def __str__(self) -> str:
        return f"{self.address()}/{self.transport}"


@quick_init
@dataclass(frozen=True, slots=True)
class FrameRef:
    """A capture frame: 1-based ``number`` as Wireshark shows it, time in integer nanoseconds
    since the epoch, and the byte offset of its record in the (uncompressed) file, or -1."""

    number: int
    ts_ns: int
    offset: int = -1


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """A frame (or reassembled message) that could not be used, and why.

    ``reason`` is a stable kebab-case code such as ``snaplen-truncated``, ``malformed-sip``,
    ``unsupported-link-type``, ``tcp-gap``; ``detail`` is one human sentence.
    """

    reason: str
    frame: int
    detail: str


@dataclass(frozen=True, slots=True)
class StreamResult(Generic[T]):
    """What one TCP segment or SCTP chunk given to its reassembler (or the reassembler's
    flush at the end) gave back: the messages it completed, how to count the frame that
    carried it (a stable kebab-case class), and the problems met on the way."""

    messages: tuple[T, ...]
    frame_class: str
    diagnostics: tuple[Diagnostic, ...] = ()


# A packet record longer than this is corrupt, not a jumbo frame (pcap's own cap is 256 KiB).
MAX_RECORD = 256 * 1024
# Timestamps are kept in [0, MAX_TS_NS] (1970 to 2116): every later sum and difference of two
# of them fits a signed 64-bit integer, which the compiled path relies on. Classic pcap's
# 32-bit seconds never leave the range; a pcapng if_tsoffset or if_tsresol can.
MAX_TS_NS = (1 << 62) - 1
