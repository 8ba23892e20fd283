"""The second engine: frames read through tshark (via pyshark).

Used with ``--engine pyshark``, automatically when the fast reader cannot read a file format
(NetMon, ERF, …: whatever tshark reads), and for SIP over TLS with ``--tls-keylog``: tshark
decrypts the records with the key log (SSLKEYLOGFILE format), and the decrypted SIP comes back
as ``DecryptedSip`` records in place of the encrypted frames that completed each message.

It yields the same ``RawFrame`` records as ``ladder.capture.reader``, so the pipeline decodes every frame
itself: both engines give the same SIP messages. pyshark costs about 2 ms a frame, so this is
for small odd files, not the 1 GB capture.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import subprocess
import threading
from dataclasses import dataclass
from decimal import Decimal
from typing import Iterator

from decoders.records import Endpoint
from ladder.errors import CaptureError
from ladder.capture.reader import RawFrame

# tshark's first protocol in frame.protocols -> the pcap LINKTYPE the pipeline understands.
# (tshark's own frame.encap_type numbers are Wireshark-internal, not LINKTYPE values.)
LINKTYPE_BY_FIRST_PROTOCOL = {
    "eth": 1,
    "null": 0,
    "loop": 108,
    "raw": 101,
    "ip": 101,
    "ipv6": 101,
    "ppp": 9,
    "sll": 113,
}
WTAP_ENCAP_SLL = "25"  # tshark dissects both cooked-capture versions as "sll"
LINKTYPE_SLL2 = 276
LINKTYPE_UNKNOWN = -1

# A TLS ClientHello starts a handshake record (0x16) whose first message is type 1.
CLIENT_HELLO_FILTER = "tcp.payload[0] == 0x16 && tcp.payload[5] == 0x01"


@dataclass(frozen=True, slots=True)
class DecryptedSip:
    """SIP that tshark decrypted from TLS: the frame that completed it and the plain messages."""

    number: int
    ts_ns: int
    src: Endpoint
    dst: Endpoint
    payloads: tuple[bytes, ...]


def tshark_path() -> str:
    path = shutil.which("tshark")
    if path is None:
        raise CaptureError("the pyshark engine needs tshark, which is not installed (apt-get install tshark)")
    return path


def tls_server_ports(path: str) -> list[int]:
    """TCP ports that receive a TLS ClientHello: tshark needs to be told they carry TLS (and SIP
    inside), since it recognises TLS by port only."""
    result = subprocess.run(
        [tshark_path(), "-r", path, "-Y", CLIENT_HELLO_FILTER, "-T", "fields", "-e", "tcp.dstport"],
        capture_output=True,
        text=True,
        check=False,
    )
    return sorted({int(line) for line in result.stdout.split() if line.isdigit()})


def _ts_ns(epoch: str) -> int:
    # tshark prints nanosecond epochs as text; Decimal keeps every digit a float would lose.
    return int(Decimal(epoch) * 1_000_000_000)


def _linktype(frame_info) -> int:
    protocols = str(frame_info.protocols).split(":")
    first = protocols[0] if protocols else ""
    if first == "sll" and str(frame_info.encap_type) != WTAP_ENCAP_SLL:
        return LINKTYPE_SLL2
    return LINKTYPE_BY_FIRST_PROTOCOL.get(first, LINKTYPE_UNKNOWN)


def _layer_hex_values(layer) -> list[str]:
    value = layer.value
    if isinstance(value, list):  # several messages of one layer in one frame
        return [str(item[0] if isinstance(item, list) else item) for item in value]
    return [str(value)]


def _decrypted_sip(packet, number: int, ts_ns: int) -> DecryptedSip | None:
    layer_names = [layer.layer_name for layer in packet.layers]
    if "tls" not in layer_names or "sip" not in layer_names:
        return None
    payloads: list[bytes] = []
    for raw_layer in packet.get_multiple_layers("sip_raw"):
        for hex_text in _layer_hex_values(raw_layer):
            try:
                payloads.append(bytes.fromhex(hex_text))
            except ValueError:
                continue  # a field tshark could not give as hex: the frame stays encrypted
    if not payloads:
        return None
    network = packet.ip if "ip" in layer_names else packet.ipv6
    src = Endpoint(str(network.src), int(packet.tcp.srcport), "tls")
    dst = Endpoint(str(network.dst), int(packet.tcp.dstport), "tls")
    return DecryptedSip(number, ts_ns, src, dst, tuple(payloads))


def check_readable(path: str) -> None:
    """Raise ``CaptureError`` with tshark's own one-line reason when it cannot read ``path``."""
    result = subprocess.run(
        [tshark_path(), "-r", path, "-c", "1", "-T", "fields", "-e", "frame.number"],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0 and not result.stdout.strip():
        lines = [line.strip() for line in result.stderr.splitlines() if line.strip()]
        reason = lines[-1] if lines else f"tshark exited with status {result.returncode}"
        raise CaptureError(f"{path}: {reason.removeprefix('tshark: ')}")


def read_frames_pyshark(
    path: str, tls_keylog: str | None = None, errors: list[str] | None = None
) -> Iterator[RawFrame | DecryptedSip]:
    """Every frame of ``path`` through tshark, in order, as ``RawFrame``; with a key log, a
    frame that completed decrypted SIP comes as ``DecryptedSip`` instead.

    Raises ``CaptureError`` when tshark cannot read the file at all; when it stops part way
    (a truncated file), the frames before are yielded and the reason goes to ``errors``.
    """
    if path == "-":
        raise CaptureError("the pyshark engine cannot read standard input; save the capture to a file first")
    check_readable(path)
    import pyshark  # imported here only: the fast path never pays for it
    from pyshark.capture.capture import TSharkCrashException

    prefs: dict[str, str] = {}
    decode_as: dict[str, str] = {}
    if tls_keylog:
        prefs["tls.keylog_file"] = tls_keylog
        for port in tls_server_ports(path):
            decode_as[f"tcp.port=={port}"] = "tls"
            decode_as[f"tls.port=={port}"] = "sip"
    # pyshark drives tshark from the thread's current asyncio event loop, and sets its own up
    # (with the child watcher it needs) in a worker thread. In the main thread it fails when a
    # caller (a test runner, an asyncio app) has closed or unset that loop: give it a new one
    # for the read, and close it afterwards.
    quiet = _LostExitStatusFilter()
    logging.getLogger("asyncio").addFilter(quiet)
    own_loop = None
    if threading.current_thread() is threading.main_thread() and _usable_event_loop() is None:
        own_loop = asyncio.new_event_loop()
        asyncio.set_event_loop(own_loop)
    capture = pyshark.FileCapture(
        path,
        use_json=True,
        include_raw=True,
        keep_packets=False,
        override_prefs=prefs or None,
        decode_as=decode_as or None,
    )
    try:
        for packet in capture:
            number = int(packet.number)
            info = packet.frame_info
            ts_ns = _ts_ns(str(info.time_epoch))
            decrypted = _decrypted_sip(packet, number, ts_ns) if tls_keylog else None
            if decrypted is not None:
                yield decrypted
                continue
            data = packet.get_raw_packet()
            yield RawFrame(
                number=number,
                ts_ns=ts_ns,
                linktype=_linktype(info),
                caplen=int(info.cap_len),
                origlen=int(info.len),
                data=data,
                offset=-1,
            )
    except TSharkCrashException as exc:
        _note_crash(errors, exc)
    finally:
        try:
            capture.close()
        except TSharkCrashException as exc:  # pyshark reports tshark's exit status on close
            _note_crash(errors, exc)
            # close() raised before forgetting the dead tshark, so __del__ would raise again.
            capture._running_processes.clear()
        if own_loop is not None:
            asyncio.set_event_loop(None)
            own_loop.close()
        logging.getLogger("asyncio").removeFilter(quiet)


def _usable_event_loop() -> asyncio.AbstractEventLoop | None:
    """The thread's event loop if it can run tshark now, else None."""
    try:
        loop = asyncio.get_event_loop_policy().get_event_loop()
    except RuntimeError:  # a thread with no loop, or the main thread's was unset
        return None
    return None if loop.is_closed() or loop.is_running() else loop


# tshark's banner when run as root: its last stderr line when nothing went wrong.
TSHARK_ROOT_BANNER = 'Running as user "root"'


def _note_crash(errors: list[str] | None, exc: Exception) -> None:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    detail = next((line for line in lines if line.startswith("Last error line:")), lines[0] if lines else "")
    reason = detail.removeprefix("Last error line:").strip().removeprefix("tshark: ")
    if reason.startswith(TSHARK_ROOT_BANNER):
        # No error of tshark's: asyncio lost the exit status (its ThreadedChildWatcher race with
        # pyshark in a worker thread reports 255) after tshark had read the whole file.
        return
    message = "tshark stopped reading: " + reason
    if errors is not None and message not in errors:
        errors.append(message)


class _LostExitStatusFilter(logging.Filter):
    """Drops asyncio's "Unknown child process pid N, will report returncode 255": the same
    race, which would otherwise print on the user's terminal."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Unknown child process pid")
