"""Live capture from a network interface through Wireshark's ``dumpcap``.

``dumpcap`` captures (it holds the privileges, the kernel buffer and the BPF filter) and writes
pcapng into a private ring of files (``-b filesize:…``), which we follow as one stream (pcapng
sections concatenate) and delete once read; ``ladder.capture.reader.CaptureReader`` walks it as it
would a file. Not a pipe: dumpcap 4.0 writing to a pipe kept up with about 2,000 packets/s here
(it sat idle while the kernel dropped the rest), to a file with 50,000 at 7 % of a core. Why
dumpcap rather than our own sockets or a libpcap binding: docs/ARCHITECTURE.md, "Live capture".

``start()`` returns once dumpcap is capturing, or raises ``CaptureError`` with one line saying
what is missing (permission, interface, filter). ``records()`` yields the ingest tuples until
``stop()`` (dumpcap is sent SIGINT, writes its statistics and closes the pipe) or dumpcap ends.
``engine_drops`` is what dumpcap reports dropped (kernel and its own buffer): in the statistics
block that closes each of its files, and on stderr when it stops.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from typing import BinaryIO

from ladder.errors import CaptureError
from ladder.capture.reader import CaptureReader

START_TIMEOUT_S = 15.0
RING_FILE_KB = 16_000  # dumpcap's -b filesize (kB): a file is read and deleted every 16 MB
MAX_BACKLOG = 64  # unread files (about 1 GB) beyond which the oldest are dropped, and counted
POLL_S = 0.02  # how often the end of the current file is looked at again (dumpcap flushes every 100 ms)
# "Packets received/dropped on interface 'lo': 120/3 (pcap:3/dumpcap:0/flushed:0/ps_ifdrop:0)"
_STATS = re.compile(r"Packets received/dropped on interface '.*': (\d+)/(\d+)")


def _end_with_parent() -> None:
    """In the child, before dumpcap starts: Linux sends it SIGTERM if we die without stopping
    it (killed), so no capture outlives its reader."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


class _Follow:
    """dumpcap's ring of files as one stream: ``read(n)`` returns what the current file has
    past our position (at least a byte), waits for more, moves on to the next file once dumpcap
    has started it (so the current one is complete), and returns b"" once dumpcap has exited
    and everything is read."""

    def __init__(self, source: "DumpcapSource"):
        self._source = source
        self._file: BinaryIO | None = None
        self._path = ""

    def _files(self) -> list[str]:
        return sorted(glob.glob(os.path.join(self._source.directory, "cap_*.pcapng")))

    def read(self, size: int = -1) -> bytes:
        size = size if size > 0 else 1 << 20
        while True:
            if self._file is not None:
                data = self._file.read(size)
                if data:
                    return data
            files = self._files()
            later = [path for path in files if path > self._path]
            if self._file is not None and later:
                data = self._file.read(size)  # the next file exists: this one is complete
                if data:
                    return data
                self._file.close()
                os.unlink(self._path)
                self._file = None
            if self._file is None and later:
                later = self._source.skip_backlog(later)
                self._path = later[0]
                self._file = open(self._path, "rb")  # noqa: SIM115 - closed when followed to its end
                continue
            if self._source.exited():
                if self._file is not None:
                    data = self._file.read(size)
                    if data:
                        return data
                    if [path for path in self._files() if path > self._path]:
                        continue
                return b""
            time.sleep(POLL_S)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


class DumpcapSource:
    """One interface captured by dumpcap. ``buffer_mib`` is dumpcap's ``-B`` (the kernel
    capture buffer: what absorbs a burst while we are busy), ``snaplen`` its ``-s`` (0: whole
    frames)."""

    # It reads pcapng files, so the compiled fast path can take its frames (``records``).
    takes_accelerator = True

    def __init__(self, interface: str, bpf: str | None = None, *, buffer_mib: int = 32, snaplen: int = 0):
        self.interface = interface
        self.bpf = bpf
        self.buffer_mib = buffer_mib
        self.snaplen = snaplen
        self.label = f"interface {interface}"
        self.has_engine = True
        self._final_drops: int | None = None  # from dumpcap's last words on stderr
        self._reader: CaptureReader | None = None
        self.engine_received: int | None = None
        self.our_drops = 0  # frames in files we fell so far behind on that they were dropped unread
        self._process: subprocess.Popen | None = None
        self._stderr: list[str] = []
        self._stderr_done = threading.Event()
        self.directory = ""
        self.errors: list[str] = []

    def start(self) -> None:
        exe = shutil.which("dumpcap") or next(
            (p for p in ("/usr/bin/dumpcap", "/usr/sbin/dumpcap") if os.access(p, os.X_OK)), None)
        if exe is None:
            raise CaptureError("live capture needs Wireshark's dumpcap: apt-get install tshark (wireshark-common)")
        self._exe = exe
        # A directory of our own (mode 0700): the capture is nobody else's to read.
        self.directory = tempfile.mkdtemp(prefix="ladder-live-")
        argv = [exe, "-i", self.interface, "-q", "-B", str(self.buffer_mib), "-b", f"filesize:{RING_FILE_KB}",
                "-w", os.path.join(self.directory, "cap.pcapng")]
        if self.snaplen:
            argv += ["-s", str(self.snaplen)]
        if self.bpf:
            argv += ["-f", self.bpf]
        # Its own session: a Ctrl+C in the terminal reaches us, and we stop dumpcap ourselves,
        # so that nothing it captured is lost between its exit and ours.
        self._process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                         stderr=subprocess.PIPE, start_new_session=True,
                                         preexec_fn=_end_with_parent)
        threading.Thread(target=self._read_stderr, daemon=True, name="dumpcap-stderr").start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if glob.glob(os.path.join(self.directory, "cap_*.pcapng")):
                return  # dumpcap opened the interface, then its first file
            if self._process.poll() is not None:
                break
            time.sleep(POLL_S)
        if self._process.poll() is None:
            self._process.kill()
        self._process.wait(timeout=10)
        self._stderr_done.wait(5)
        shutil.rmtree(self.directory, ignore_errors=True)
        raise CaptureError(self._failure())

    @property
    def engine_drops(self) -> int | None:
        """What dumpcap reported dropped: at the stop, or from the statistics block that closes
        each of its files (so during a long capture too); None before either."""
        if self._final_drops is not None:
            return self._final_drops
        return self._reader.isb_drops if self._reader is not None else None

    def exited(self) -> bool:
        return self._process is None or self._process.poll() is not None

    def skip_backlog(self, unread: list[str]) -> list[str]:
        """Drop the oldest unread files past MAX_BACKLOG (we fell that far behind), counting
        their frames as ours, so the disk holds at most about a gigabyte."""
        while len(unread) > MAX_BACKLOG:
            path = unread.pop(0)
            try:
                with CaptureReader(path) as reader:
                    self.our_drops += sum(1 for _ in reader.records())
            except CaptureError:
                pass
            self.errors.append(f"{self.label}: fell behind the capture; {os.path.basename(path)} dropped unread")
            os.unlink(path)
        return unread

    def _read_stderr(self) -> None:
        assert self._process is not None and self._process.stderr is not None
        for raw in self._process.stderr:
            line = raw.decode("utf-8", "replace").rstrip()
            if len(self._stderr) < 200:
                self._stderr.append(line)
            match = _STATS.search(line)
            if match:
                self.engine_received = (self.engine_received or 0) + int(match.group(1))
                self._final_drops = (self._final_drops or 0) + int(match.group(2))
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

    def records(self, accelerator=None):
        """The frames dumpcap writes, as ``CaptureReader.records()`` tuples, until it ends; with
        ``accelerator``, runs of frames the compiled fast path took arrive as one record, as
        from a file."""
        assert self._process is not None
        follow = _Follow(self)
        reader = self._reader = CaptureReader(self.label, stream=follow)
        try:
            yield from reader.records(accelerator)
        finally:
            follow.close()
            self.errors.extend(reader.errors)

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
        if process.stderr is not None:
            process.stderr.close()
        shutil.rmtree(self.directory, ignore_errors=True)
