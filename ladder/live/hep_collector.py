"""A HEP (Homer encapsulation) collector: ``-L udp:ADDR:PORT`` or ``-L tcp:ADDR:PORT``.

Kamailio's siptrace, OpenSIPS' proto_hep, FreeSWITCH and heplify send each SIP message they
see as one HEP packet. Each received HEP packet becomes one synthetic frame: an IPv4 (or IPv6)
UDP datagram from the sender to the address we listen on, carrying the HEP packet unchanged
(link type RAW). The pipeline decodes HEP inside UDP as it does in a capture file, so the
live view, a file written with ``-O`` and ``ladder`` reading that file later all take the same
path, and nothing HEP carried (agent id, capture times, correlation) is lost.

UDP: HEPv1/v2/v3, one packet a datagram. TCP: HEPv3 only, whose header carries its length
(HEPv2 has no total length to frame a stream with). ``our_drops`` counts datagrams the kernel
dropped because our socket's buffer was full (Linux ``SO_RXQ_OVFL``) and TCP bytes that were
not HEPv3 (the connection is then closed).
"""

from __future__ import annotations

import errno
import ipaddress
import select
import socket
import struct
import time

from ladder.errors import CaptureError, UsageError
from ladder.export.pcap_writer import LINKTYPE_RAW, IPPROTO_UDP, ipv4_packet, ipv6_packet, udp_datagram

SO_RXQ_OVFL = getattr(socket, "SO_RXQ_OVFL", 40)  # Linux; Python does not name it everywhere
RECEIVE_BUFFER = 8 * 1024 * 1024
MAX_DATAGRAM = 65535
MAX_TCP_CLIENTS = 64
POLL_S = 0.2  # how soon a stop request is noticed


def parse_listen(spec: str) -> tuple[str, str, int]:
    """``udp:0.0.0.0:9060``, ``tcp:[::1]:9061`` → (transport, address, port)."""
    transport, _, rest = spec.partition(":")
    address, _, port_text = rest.rpartition(":")
    address = address[1:-1] if address.startswith("[") and address.endswith("]") else address
    if transport not in ("udp", "tcp") or not address or not port_text.isdigit():
        raise UsageError(f"-L {spec!r}: expected udp:ADDRESS:PORT or tcp:ADDRESS:PORT (e.g. udp:0.0.0.0:9060)")
    port = int(port_text)
    try:
        ipaddress.ip_address(address)
    except ValueError:
        raise UsageError(f"-L {spec!r}: {address!r} is not an IP address") from None
    if not 0 < port < 65536:
        raise UsageError(f"-L {spec!r}: port {port} out of range")
    return transport, address, port


class HepCollector:
    def __init__(self, spec: str):
        self.transport, self.address, self.port = parse_listen(spec)
        self.label = f"HEP {spec}"
        self.family = socket.AF_INET6 if ":" in self.address else socket.AF_INET
        self.has_engine = False
        self.engine_drops: int | None = None  # no capture engine: the kernel's drops are ours
        self.engine_received: int | None = None
        self.our_drops = 0
        self.errors: list[str] = []
        self._sock: socket.socket | None = None
        self._stopping = False

    def start(self) -> None:
        kind = socket.SOCK_DGRAM if self.transport == "udp" else socket.SOCK_STREAM
        sock = socket.socket(self.family, kind)
        try:
            if self.transport == "tcp":
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            else:
                _grow_buffer(sock)
                try:
                    sock.setsockopt(socket.SOL_SOCKET, SO_RXQ_OVFL, 1)
                except OSError:
                    pass  # not Linux: drops are then not counted
            sock.bind((self.address, self.port))
            if self.transport == "tcp":
                sock.listen(16)
        except OSError as exc:
            sock.close()
            where = f"{self.transport}:{self.address}:{self.port}"
            if exc.errno == errno.EADDRINUSE:
                raise CaptureError(f"cannot listen on {where}: address already in use (another collector?)") from None
            if exc.errno == errno.EACCES:
                raise CaptureError(f"cannot listen on {where}: permission denied (ports below 1024 need root "
                                   f"or CAP_NET_BIND_SERVICE)") from None
            if exc.errno == errno.EADDRNOTAVAIL:
                raise CaptureError(f"cannot listen on {where}: no interface has address {self.address}") from None
            raise CaptureError(f"cannot listen on {where}: {exc.strerror or exc}") from None
        sock.settimeout(POLL_S)
        self._sock = sock

    def stop(self) -> None:
        self._stopping = True

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()

    # -- frames ----------------------------------------------------------------------------
    def _frame(self, sender: tuple, payload: bytes) -> tuple:
        ip, port = sender[0], sender[1]
        try:
            udp = udp_datagram(ip, self.address, port, self.port, payload)
            if self.family == socket.AF_INET6 and ip.startswith("::ffff:") and "." in ip:
                ip = ip[7:]
            if ":" in ip:
                packet = ipv6_packet(ip, self.address if ":" in self.address else "::", IPPROTO_UDP, udp)
            else:
                dst = self.address if ":" not in self.address else "0.0.0.0"
                packet = ipv4_packet(ip, dst, IPPROTO_UDP, udp)
        except (ValueError, struct.error):
            packet = ipv4_packet("0.0.0.0", "0.0.0.0", IPPROTO_UDP, struct.pack("!HHHH", 0, self.port, 8, 0) + payload)
        return time.time_ns(), LINKTYPE_RAW, packet, 0, len(packet), len(packet), 0

    def records(self):
        if self.transport == "udp":
            yield from self._udp_records()
        else:
            yield from self._tcp_records()

    def _udp_records(self):
        sock = self._sock
        assert sock is not None
        space = socket.CMSG_SPACE(4)
        while not self._stopping:
            try:
                data, ancillary, _flags, sender = sock.recvmsg(MAX_DATAGRAM, space)
            except TimeoutError:
                continue
            except OSError as exc:
                self.errors.append(f"{self.label}: receive failed: {exc.strerror or exc}")
                return
            for level, kind, value in ancillary:
                if level == socket.SOL_SOCKET and kind == SO_RXQ_OVFL and len(value) >= 4:
                    self.our_drops = struct.unpack("=I", value[:4])[0]  # a running total
            if data:
                yield self._frame(sender, data)

    def _tcp_records(self):
        listener = self._sock
        assert listener is not None
        clients: dict[socket.socket, list] = {}  # socket -> [peer, buffered bytes]
        try:
            while not self._stopping:
                ready, _, _ = select.select([listener, *clients], [], [], POLL_S)
                for sock in ready:
                    if sock is listener:
                        try:
                            client, peer = listener.accept()
                        except OSError:
                            continue
                        if len(clients) >= MAX_TCP_CLIENTS:
                            client.close()
                            continue
                        clients[client] = [peer, b""]
                        continue
                    try:
                        more = sock.recv(1 << 16)
                    except OSError:
                        more = b""
                    peer, buffered = clients[sock]
                    buffered += more
                    packets, buffered, bad = _split_hep3(buffered)
                    for packet in packets:
                        yield self._frame(peer, packet)
                    if bad:
                        self.our_drops += 1
                        self.errors.append(f"{self.label}: {peer[0]}:{peer[1]} sent bytes that are not HEPv3; "
                                           f"connection closed")
                    if not more or bad:
                        sock.close()
                        del clients[sock]
                    else:
                        clients[sock][1] = buffered
        finally:
            for sock in clients:
                sock.close()


def _split_hep3(data: bytes) -> tuple[list[bytes], bytes, bool]:
    """Whole HEPv3 packets at the front of ``data``, the rest, and whether the stream is broken."""
    packets: list[bytes] = []
    pos = 0
    while len(data) - pos >= 6:
        if data[pos:pos + 4] != b"HEP3":
            return packets, b"", True
        length = struct.unpack_from("!H", data, pos + 4)[0]
        if length < 6:
            return packets, b"", True
        if len(data) - pos < length:
            break
        packets.append(data[pos:pos + length])
        pos += length
    return packets, data[pos:], False


def _grow_buffer(sock: socket.socket) -> None:
    """A receive buffer that absorbs bursts while the pipeline is busy (root may exceed
    net.core.rmem_max with SO_RCVBUFFORCE; others get what the limit allows)."""
    for option in (getattr(socket, "SO_RCVBUFFORCE", 33), socket.SO_RCVBUF):
        try:
            sock.setsockopt(socket.SOL_SOCKET, option, RECEIVE_BUFFER)
            return
        except OSError:
            continue
