"""``ladder live -d IFACE | -L udp:ADDR:PORT``: calls as they happen, as ``sngrep -d`` / ``-L``.

Without a terminal UI (``ladder -d`` / ``ladder -L`` open one), one line per call as it ends:
text, or JSON with ``--json`` (its ``call_ids`` included), for scripts and log pipelines.
``ladder check -d …`` prints each call's deviations as it ends. SIGINT or SIGTERM stops
cleanly: the calls not yet reported are printed (``"ended": false``), ``-O`` is closed as a
complete pcapng, and the status is 0 (``check``: 1 when a call deviated).
"""

from __future__ import annotations

import collections
import json
import signal
import sys
import threading
import time
from typing import TYPE_CHECKING

from ladder.errors import UsageError
from ladder.live.session import DEFAULT_LIMIT, LiveSession, call_ended

if TYPE_CHECKING:
    from ladder.live.hep_collector import HepCollector
    from ladder.live.source import DumpcapSource

REFRESH_S = 0.5  # how often the calls are re-derived: new calls show within a second


def add_live_arguments(parser) -> None:
    """The source options ``live`` and ``check`` share."""
    where = parser.add_argument_group("live capture")
    where.add_argument("-d", "--device", metavar="IFACE", help="capture on this network interface (via dumpcap)")
    where.add_argument("-L", "--listen", metavar="udp|tcp:ADDR:PORT",
                       help="receive HEP (v2/v3) from Kamailio, OpenSIPS, FreeSWITCH, heplify … on this address")
    where.add_argument("-f", "--filter", metavar="BPF", help="capture filter, as tcpdump's (with -d)")
    where.add_argument("-O", "--output", metavar="FILE.pcapng", help="also write what was captured or received")
    where.add_argument("--ring", metavar="COUNTxSIZE",
                       help="with -O: a ring of COUNT files of SIZE (10x100M) or DURATION (24x1h) each")
    where.add_argument("-l", "--limit", type=int, default=DEFAULT_LIMIT, metavar="N",
                       help=f"keep at most N calls, dropping the oldest (default {DEFAULT_LIMIT})")
    where.add_argument("-B", "--buffer-size", type=int, default=32, metavar="MIB",
                       help="dumpcap's kernel capture buffer in MiB (default 32)")
    where.add_argument("--duration", type=float, default=None, metavar="SECONDS", help="stop after this long")


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "live", help="watch an interface or receive HEP: calls as they happen",
        description="Capture SIP/RTP live from an interface (through Wireshark's dumpcap) or receive HEP, "
                    "and report each call as it ends. 'ladder -d IFACE' and 'ladder -L SPEC' open the TUI.",
    )
    add_live_arguments(parser)
    parser.add_argument("--json", action="store_true", help="one JSON object per line, per call")
    parser.add_argument("--no-media", action="store_true", help="skip RTP analysis")
    parser.add_argument("--tui", action="store_true", help="the terminal UI (what 'ladder -d' runs)")
    parser.add_argument("--alias", action="append", default=[], metavar="IP[:PORT]=NAME",
                        help="name a column in the TUI's ladders (repeatable)")
    parser.set_defaults(func=run)


def open_session(args, *, media: bool = True) -> LiveSession:
    """The session the options describe (not started)."""
    if bool(args.device) == bool(args.listen):
        raise UsageError("give one source: -d IFACE (an interface) or -L udp:ADDR:PORT (a HEP collector)")
    if args.ring and not args.output:
        raise UsageError("--ring needs -O FILE")
    if args.limit < 1:
        raise UsageError("--limit must keep at least one call")
    if args.filter and not args.device:
        raise UsageError("-f BPF filters an interface capture (-d); a HEP collector takes what it is sent")
    source: DumpcapSource | HepCollector
    if args.device:
        from ladder.live.source import DumpcapSource

        source = DumpcapSource(args.device, args.filter, buffer_mib=max(1, args.buffer_size))
    else:
        from ladder.live.hep_collector import HepCollector

        source = HepCollector(args.listen)
    writer = None
    if args.output:
        from ladder.live.output import CaptureWriter, parse_ring

        if args.ring:
            parse_ring(args.ring)  # a usage error before anything is opened
        writer = CaptureWriter(args.output, args.ring)
    return LiveSession(source, limit=args.limit, writer=writer, media=media)


def run(args) -> int:
    media = not getattr(args, "no_media", False)
    session = open_session(args, media=media)
    if args.tui and sys.stdout.isatty() and sys.stdin.isatty():
        from ladder.cli.open import run_live_tui

        return run_live_tui(session, args)
    return watch(session, args, Reporter(args, media))


class Reporter:
    """Prints each call once: as it ends, or as it stands when dropped by --limit or at the end."""

    def __init__(self, args, media: bool, *, check=None):
        self.json = bool(getattr(args, "json", False))
        self.media = media
        self.check = check  # a function (call, capture) -> CheckResult, for 'ladder check -d'
        self.seen: collections.OrderedDict[str, None] = collections.OrderedDict()
        self.bound = 4 * max(1, args.limit)
        self.deviated = False

    def report(self, session: LiveSession, final: bool = False) -> None:
        # the calls' lines carry no media figures; the check's do
        capture, calls, dropped = session.snapshot(streams=self.check is not None)
        now = time.time_ns()
        for call in dropped:
            self._emit(call, capture, ended=False, note="dropped by --limit")
        for call in calls:
            ended = call_ended(call, now)
            if ended or final:
                self._emit(call, capture, ended=ended or call_ended(call, now, linger_ns=0))
        sys.stdout.flush()

    def _emit(self, call, capture, *, ended: bool, note: str = "") -> None:
        if call.id in self.seen:
            return
        self.seen[call.id] = None
        while len(self.seen) > self.bound:
            self.seen.popitem(last=False)
        out = sys.stdout
        if self.check is not None:
            from ladder.check.call_check import deviation_line
            from ladder.cli.check import summary_line

            result = self.check(call, capture)
            self.deviated = self.deviated or not result.conforms
            if self.json:
                out.write(json.dumps({**result.to_json(), "call_ids": list(call.call_ids), "ended": ended},
                                     ensure_ascii=False) + "\n")
            else:
                from ladder.textsafe import safe_text

                out.write(safe_text(summary_line(result)) + (f" [{note}]" if note else "") + "\n")
                for item in result.deviations:
                    out.write("  " + safe_text(deviation_line(item)) + "\n")
            return
        from ladder.cli.calls import call_dict, format_start

        if self.json:
            record = {**call_dict(call), "ended": ended}
            if note:
                record["note"] = note
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
        else:
            from ladder.textsafe import safe_text

            text = (f"Call {call.index} {format_start(call.start_ns)} {call.caller} -> {call.callee} "
                    f"{call.outcome} ({len(call.messages)} messages) {call.id}")
            out.write(safe_text(text) + (f" [{note}]" if note else "") + "\n")


def watch(session: LiveSession, args, reporter: Reporter) -> int:
    """Run until SIGINT/SIGTERM, ``--duration`` or the source's end; report calls as they end."""
    stop = threading.Event()
    stop_signals = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)  # SIGHUP: the terminal closed
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in stop_signals}
    try:
        session.start()
        print(f"ladder: live: {session.label}" + (f", writing {args.output}" if args.output else ""),
              file=sys.stderr)
        deadline = time.monotonic() + args.duration if args.duration else None
        while not stop.is_set() and not session.finished.is_set():
            stop.wait(session.refresh_after(REFRESH_S))
            if deadline is not None and time.monotonic() >= deadline:
                break
            reporter.report(session)
            session.flush()
        session.stop()
        reporter.report(session, final=True)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    status = session.status()
    print(f"ladder: {status.line()}", file=sys.stderr)
    if session.error:
        print(f"ladder: error: {session.error}", file=sys.stderr)
        return 2
    return 1 if reporter.deviated else 0


def check_live(args, references, wanted: str, ignore, media: bool) -> int:
    """``ladder check -d IFACE`` / ``-L SPEC``: each call checked as it ends (exit 1 if any deviated)."""
    from ladder.check.call_check import check_call
    from ladder.draw.layout import build_ladder
    from ladder.check.rules import RuleSettings

    if not args.device and not args.listen:
        raise UsageError("give a capture file, or a live source: -d IFACE or -L udp:ADDR:PORT")
    if args.call:
        raise UsageError("--call picks calls from a file; a live check reports every call as it ends")
    session = open_session(args, media=media)

    def check(call, capture):
        settings = RuleSettings(t1_ns=int(args.t1 * 1_000_000), path_mtu=args.path_mtu, end_ns=capture.last_ts_ns)
        ladder = build_ladder(call, capture, media=media)
        return check_call(call, capture, references, reference=wanted, ladder=ladder, ignore=ignore,
                          settings=settings)

    return watch(session, args, Reporter(args, media, check=check))
