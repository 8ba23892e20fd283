"""Live capture from a network interface through Wireshark's ``dumpcap``.

``dumpcap`` captures (it holds the privileges, the kernel buffer and the BPF filter) and writes
pcapng to a pipe; ``ladder.ingest.CaptureReader`` walks that stream as it would a file. Why
dumpcap rather than our own sockets or a libpcap binding: docs/ARCHITECTURE.md, "Live capture".

``start()`` returns once dumpcap is capturing, or raises ``CaptureError`` with one line saying
what is missing (permission, interface, filter). ``records()`` yields the ingest tuples until
``stop()`` (dumpcap is sent SIGINT, writes its statistics and closes the pipe) or dumpcap ends.
``engine_drops`` is what dumpcap reports dropped (kernel and its own buffer), known at the end:
dumpcap reports drops only when it closes its output.
"""

from __future__ import annotations

import os
import re
import select
import shutil
import signal
import subprocess
import threading
import time

from ladder.errors import CaptureError
from ladder.ingest import CaptureReader

START_TIMEOUT_S = 15.0
# "Packets received/dropped on interface 'lo': 120/3 (pcap:3/dumpcap:0/flushed:0/ps_ifdrop:0)"
_STATS = re.compile(r"Packets received/dropped on interface '.*': (\d+)/(\d+)")


class _Pipe:
    """The read end of dumpcap's stdout: ``read(n)`` returns what is there (at least one byte,
    or b"" at the end), so a packet reaches the reader as soon as dumpcap writes it."""

    def __init__(self, fd: int, prefix: bytes):
        self._fd = fd
        self._prefix = prefix

    def read(self, size: int = -1) -> bytes:
        if self._prefix:
            data, self._prefix = self._prefix, b""
            return data
        return os.read(self._fd, size if size > 0 else 1 << 20)

    def close(self) -> None:
        pass  # the process owns the pipe; DumpcapSource.stop closes it


class DumpcapSource:
    """One interface captured by dumpcap. ``buffer_mib`` is dumpcap's ``-B`` (the kernel
    capture buffer: what absorbs a burst while we are busy), ``snaplen`` its ``-s`` (0: whole
    frames)."""

    def __init__(self, interface: str, bpf: str | None = None, *, buffer_mib: int = 32, snaplen: int = 0):
        self.interface = interface
        self.bpf = bpf
        self.buffer_mib = buffer_mib
        self.snaplen = snaplen
        self.label = f"interface {interface}"
        self.has_engine = True
        self.engine_drops: int | None = None  # known once dumpcap has reported its statistics
        self.engine_received: int | None = None
        self.our_drops = 0  # frames we read and threw away: none (a full pipe holds dumpcap back)
        self._process: subprocess.Popen | None = None
        self._stderr: list[str] = []
        self._stderr_done = threading.Event()
        self._prefix = b""
        self.errors: list[str] = []

    def start(self) -> None:
        exe = shutil.which("dumpcap") or next(
            (p for p in ("/usr/bin/dumpcap", "/usr/sbin/dumpcap") if os.access(p, os.X_OK)), None)
        if exe is None:
            raise CaptureError("live capture needs Wireshark's dumpcap: apt-get install tshark (wireshark-common)")
        self._exe = exe
        argv = [exe, "-i", self.interface, "-w", "-", "-B", str(self.buffer_mib)]
        if self.snaplen:
            argv += ["-s", str(self.snaplen)]
        if self.bpf:
            argv += ["-f", self.bpf]
        # Its own session: a Ctrl+C in the terminal reaches us, and we stop dumpcap ourselves,
        # so that nothing it captured is lost between its exit and ours.
        self._process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                         stderr=subprocess.PIPE, start_new_session=True)
        threading.Thread(target=self._read_stderr, daemon=True, name="dumpcap-stderr").start()
        fd = self._process.stdout.fileno()
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.1)
            if ready:
                self._prefix = os.read(fd, 1 << 16)
                if self._prefix:
                    return
                break  # end of output: dumpcap gave up
            if self._process.poll() is not None:
                break
        self._process.wait(timeout=10)
        self._stderr_done.wait(5)
        raise CaptureError(self._failure())

    def _read_stderr(self) -> None:
        assert self._process is not None and self._process.stderr is not None
        for raw in self._process.stderr:
            line = raw.decode("utf-8", "replace").rstrip()
            if len(self._stderr) < 200:
                self._stderr.append(line)
            match = _STATS.search(line)
            if match:
                self.engine_received = (self.engine_received or 0) + int(match.group(1))
                self.engine_drops = (self.engine_drops or 0) + int(match.group(2))
        self._stderr_done.set()

    def _failure(self) -> str:
        """One line for why dumpcap did not start capturing."""
        text = "\n".join(self._stderr)
        name = self.interface
        if "permission" in text.lower() or "Operation not permitted" in text:
            return (f"cannot capture on {name}: permission denied (needs root, or CAP_NET_RAW and CAP_NET_ADMIN "
                    f"on dumpcap: setcap cap_net_raw,cap_net_admin=eip {self._exe}, or membership of the "
                    f"'wireshark' group)")
        if "no device named" in text or "No such device" in text:
            return f"no network interface named {name!r} ('ip link' lists them)"
        if "Invalid capture filter" in text or "syntax error" in text:
            return f"invalid capture filter {self.bpf!r}"
        reason = next((line.split(":", 1)[1].strip() for line in self._stderr if line.startswith("dumpcap:")), "")
        reason = reason or next((line for line in self._stderr if line and not line.startswith("Capturing on")), "")
        return f"cannot capture on {name}: {reason or 'dumpcap ended without capturing'}"

    def records(self):
        """The frames dumpcap writes, as ``CaptureReader.records()`` tuples, until it ends."""
        assert self._process is not None
        reader = CaptureReader(self.label, stream=_Pipe(self._process.stdout.fileno(), self._prefix))
        self.errors = reader.errors
        yield from reader.records()

    def stop(self) -> None:
        """Ask dumpcap to finish: it flushes what it captured, reports drops, closes the pipe."""
        process = self._process
        if process is not None and process.poll() is None:
            try:
                process.send_signal(signal.SIGINT)
            except ProcessLookupError:
                pass

    def close(self) -> None:
        """After the reader saw the end: reap dumpcap (killed if it hangs) and its statistics."""
        process = self._process
        if process is None:
            return
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        self._stderr_done.wait(5)
        if process.stdout is not None:
            process.stdout.close()
        if process.stderr is not None:
            process.stderr.close()
