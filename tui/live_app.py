"""The TUI on a live capture (``ladder -d IFACE``, ``ladder -L udp:ADDR:PORT``).

The same app and screens as for a file; instead of one load, a refresh every ``REFRESH_S`` (or later: ``LiveSession.refresh_after``)
takes a snapshot of the live session in a thread worker (calls re-derived from the messages so
far) and posts it. New calls are appended to the list, changed ones updated in place, calls
dropped by ``--limit`` removed; an open ladder whose call grew is redrawn with its cursor on the
same arrow. The status line under the header shows packets, calls, drops and elapsed time.
``q`` on the call list (or Ctrl+C) stops the capture: ``-O`` is closed as a complete pcapng.
"""

from __future__ import annotations

import signal
import sys
import time
from typing import TYPE_CHECKING

from textual import work
from textual.binding import Binding
from textual.css.query import NoMatches
from textual.message import Message
from textual.widgets import ProgressBar, Static
from textual.worker import get_current_worker

from ladder.analysis import Analysis
from ladder.live.session import LiveSession, LiveStatus
from ladder.media.binding import MediaIndex
from tui.app import SWITCH_INTERVAL_S, LadderApp
from tui.ladder_screen import LadderScreen
from tui.ladder_view import LadderView
from tui.safe_text import clean

if TYPE_CHECKING:
    import argparse

    from ladder.calls.grouping import Call
    from ladder.capture.loader import Capture
    from ladder.draw.aliases import AliasMap

REFRESH_S = 0.5
TICK_S = 0.1  # how often the app looks whether a snapshot is due


class LiveUpdate(Message):
    def __init__(self, capture: "Capture", calls: list["Call"], status: LiveStatus, analysis: Analysis) -> None:
        super().__init__()
        self.capture = capture
        self.calls = calls
        self.status = status
        self.analysis = analysis  # what the ladders draw from, as for a file (media bound once)


class LiveLadderApp(LadderApp):
    BINDINGS = [Binding("ctrl+c", "stop_capture", "Stop", show=False, priority=True)]

    def __init__(self, session: LiveSession, *, aliases: "AliasMap | None" = None, media: bool = True) -> None:
        super().__init__(session.label, aliases=aliases, media=media, check=False)
        self.session = session
        self.sub_title = clean(session.label)
        self.loaded = True
        self.checked = True
        self.status: LiveStatus | None = None

    def on_mount(self) -> None:
        sys.setswitchinterval(SWITCH_INTERVAL_S)
        self.call_list.checking = False
        self.push_screen(self.call_list)
        self._next_snapshot = 0.0  # monotonic time of the next snapshot
        self._snapshotting = False
        self.set_interval(TICK_S, self._tick)

    def _tick(self) -> None:
        """One snapshot at a time, paced by ``LiveSession.refresh_after``."""
        if self._snapshotting or time.monotonic() < self._next_snapshot:
            return
        self._snapshotting = True
        self.take_snapshot()

    def load(self) -> None:  # type: ignore[override]  # the parent's file loader: nothing to load here
        return

    @work(thread=True, exclusive=True, group="live", exit_on_error=False)
    def take_snapshot(self) -> None:
        try:
            if get_current_worker().is_cancelled:
                return
            capture, calls, _dropped = self.session.snapshot()
            self.session.flush()
            streams = list(capture.streams) if self.media else []
            analysis = Analysis(capture, list(calls), MediaIndex.build(list(calls), streams), self.media)
            self.post_message(LiveUpdate(capture, calls, self.session.status(), analysis))
        finally:
            self._next_snapshot = time.monotonic() + self.session.refresh_after(REFRESH_S)
            self._snapshotting = False

    def on_live_update(self, message: LiveUpdate) -> None:
        before = self.calls
        self.capture = message.capture
        self.analysis = message.analysis
        self.call_list.capture = message.capture
        self.calls = {call.id: call for call in message.calls}
        self.status = message.status
        self._show_status(message.status)
        if any(key not in self.calls for key in before):
            self.call_list.rows = {}
            self.call_list.set_rows([self.row_of(call) for call in message.calls])
        else:
            new = [call for call in message.calls if call.id not in before]
            changed = [call for call in message.calls if call.id in before
                       and (len(call.messages) != len(before[call.id].messages)
                            or call.outcome != before[call.id].outcome)]
            if changed:
                self.call_list.update_rows([self.row_of(call) for call in changed], checking=False)
                self.call_list.table.refresh()
            if new:
                self.call_list.add_rows_while_loading([self.row_of(call) for call in new])
        screen = self.screen
        if isinstance(screen, LadderScreen) and all(key in self.calls for key in screen.keys):
            grew = any(key not in before or len(self.calls[key].messages) != len(before[key].messages)
                       for key in screen.keys)
            if grew or message.capture.streams:
                view = screen.query_one("#ladder", LadderView)
                screen.rebuild(cursor=view.cursor)

    def _show_status(self, status: LiveStatus) -> None:
        line = status.line() + (f" · {status.error}" if status.error else "")
        try:
            self.call_list.query_one("#load-progress", ProgressBar).display = False  # no file size to fill
            self.call_list.query_one("#load-label", Static).update(clean(line))
        except NoMatches:
            pass

    def action_stop_capture(self) -> None:
        self.exit(return_code=0)

    def action_leave(self) -> None:
        if self.screen is self.call_list or len(self.screen_stack) <= 2:
            self.exit(return_code=0)
        else:
            self.pop_screen()


def run_live_app(session: LiveSession, args: "argparse.Namespace") -> int:
    """Start the session, run the app until q / Ctrl+C, then stop the capture cleanly."""
    from ladder.draw.aliases import build_aliases

    aliases = build_aliases(getattr(args, "alias", None), None)
    session.start()
    app = LiveLadderApp(session, aliases=aliases, media=not getattr(args, "no_media", False))
    # The terminal closing (SIGHUP) stops the capture as q does: dumpcap's files are removed.
    previous = signal.signal(signal.SIGHUP, lambda *_: app.exit(return_code=0))
    try:
        app.run()
    finally:
        signal.signal(signal.SIGHUP, previous)
        session.stop()
    status = session.status()
    print(f"ladder: {status.line()}", file=sys.stderr)
    if session.error:
        print(f"ladder: error: {session.error}", file=sys.stderr)
        return 2
    return int(app.return_code or 0)
