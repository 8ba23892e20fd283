"""The ladder of one call (or several, sngrep's extended flow) with an arrow cursor, the
selected message in a detail pane, and the call's deviations and RTP streams beside it."""

from __future__ import annotations

import re
from typing import Callable, TYPE_CHECKING

from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import DataTable, Header, Input, Static, TabbedContent, TabPane

from ladder.draw.diagram import MEDIA, Arrow, Ladder, arrow_label
from tui.ladder_lines import LadderLines, ladder_lines
from tui.ladder_view import DEVIATION_STYLE, MEDIA_STYLE, RETRANSMISSION_STYLE, LadderView
from tui.panes import arrow_heading, fill_streams_table, stream_detail
from tui.raw_screen import RawScreen
from tui.safe_text import clean, safe_rich_text
from tui.sip_highlight import highlight_sip
from tui.steady_footer import SteadyFooter
from tui.app_screen import AppScreen

if TYPE_CHECKING:
    from ladder.check.deviations import Deviation
    from ladder.media.streams import RtpStream


def arrow_style(arrow: Arrow) -> Style | None:
    if arrow.marks:
        return DEVIATION_STYLE
    if arrow.kind == MEDIA:
        return MEDIA_STYLE
    if arrow.retransmission:
        return RETRANSMISSION_STYLE
    return None


class LadderScreen(AppScreen):
    BINDINGS = [
        Binding("escape,q", "back", "Back", show=True),
        Binding("t", "toggle_time", "Time", show=True),
        Binding("m", "toggle_media", "Media", show=True),
        Binding("f6,R", "raw", "Raw", show=True),
        Binding("f2,s", "save", "Save", show=True),
        Binding("slash", "search", "Search", show=True),
        Binding("n", "search_next", "Next hit", show=False),
        Binding("z", "zoom", "Zoom", show=True),
        Binding("c", "compare", "Compare", show=True),
        Binding("tab", "next_pane(1)", "Next pane", show=False),
        Binding("shift+tab", "next_pane(-1)", "Previous pane", show=False),
        Binding("1", "side('tab-message')", "Message", show=False),
        Binding("2", "side('tab-deviations')", "Deviations", show=False),
        Binding("3", "side('tab-call-streams')", "Streams", show=False),
    ]
    # Tab goes from pane to pane, each focused as it is shown: the ladder, the deviations (one
    # Tab away, so Enter on one jumps to its arrow), the streams, the message.
    PANES = ("ladder", "tab-deviations", "tab-call-streams", "tab-message")

    def __init__(self, keys: list[str],
                 build: Callable[[list[str], bool], tuple[Ladder, list[Deviation], list[RtpStream]]],
                 *, media: bool = True, time: bool = False) -> None:
        """``build(keys, media)`` returns (ladder, deviations, streams) for the calls ``keys``."""
        super().__init__()
        self.keys = keys
        self._build = build
        self.media = media
        self.time_column = time
        self.ladder: Ladder | None = None
        self.deviations: list[Deviation] = []
        self.streams: list[RtpStream] = []
        self.search_text = ""
        self.compare_from: int | None = None  # the arrow ``c`` marked first
        self.composed = False  # its widgets are mounted (``show_calls`` may fill them)
        self._shown_arrow: tuple[Ladder, int] | None = None  # what the detail pane shows
        self._shown_deviation: tuple[list[Deviation], int] | None = None  # and the text under the table

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="ladder-title")
        with Horizontal(id="ladder-body"):
            yield LadderView(id="ladder")
            with TabbedContent(id="side", initial="tab-message"):
                with TabPane("Message", id="tab-message"):
                    with VerticalScroll(id="detail-scroll"):
                        yield Static("", id="detail", markup=False)
                with TabPane("Deviations", id="tab-deviations"):
                    yield DataTable(id="deviations", cursor_type="row", zebra_stripes=True)
                    with VerticalScroll(id="deviation-scroll"):
                        yield Static("", id="deviation-detail", markup=False)
                with TabPane("Streams", id="tab-call-streams"):
                    yield DataTable(id="call-streams", cursor_type="row", zebra_stripes=True)
        yield Input(placeholder="Search messages, or F12 to go to F12 (Enter: next match, Esc: close)",
                    id="search")
        yield SteadyFooter()

    def on_mount(self) -> None:
        self.query_one("#search", Input).display = False
        # The tab strip takes no focus: Tab goes straight to the pane's content.
        for tabs in self.query("#side Tabs"):
            tabs.can_focus = False
        self.query_one("#detail-scroll", VerticalScroll).can_focus = True
        self.composed = True
        self.query_one("#ladder", LadderView).focus()
        if self.keys:
            self.rebuild(cursor=0)
        else:  # composed ahead of the first open (``LadderApp.prepare_ladder_screen``): its footer
            # keys too, which a footer otherwise builds on the first bindings signal once shown.
            footer = self.query_one(SteadyFooter)
            self.call_after_refresh(footer.bindings_changed, self)

    def show_calls(self, keys: list[str], *, media: bool, time: bool) -> None:
        """The same screen for other calls (the app keeps one: composing its ~80 widgets again
        was most of an open's cost). Everything the last calls left is reset as a new screen
        would have it: panes, zoom, search, scroll, focus."""
        self.keys = keys
        self.media = media
        self.time_column = time
        if not self.composed:
            return  # still being composed: ``on_mount`` draws these calls
        self.ladder, self.deviations, self.streams = None, [], []
        self.search_text = ""
        search = self.query_one("#search", Input)
        search.value = ""
        search.display = False
        view = self.query_one("#ladder", LadderView)
        side = self.query_one("#side", TabbedContent)
        view.display = side.display = True
        side.active = "tab-message"
        self.query_one("#detail-scroll", VerticalScroll).scroll_home(animate=False, immediate=True)
        view.scroll_home(animate=False, immediate=True)
        self.rebuild(cursor=0)
        view.focus()

    # --- drawing -------------------------------------------------------------------------------

    def rebuild(self, *, cursor: int) -> None:
        self.compare_from = None  # arrow indexes change with the media bars
        try:
            self.ladder, self.deviations, self.streams = self._build(self.keys, self.media)
            lines = ladder_lines(self.ladder, time=self.time_column)
        except Exception as exc:  # a bug drawing one call must not take the whole app down
            message = f"Cannot draw this ladder: {type(exc).__name__}: {clean(exc)}"
            self.query_one("#ladder-title", Static).update(Text(message, style="bold red"))
            self.notify(message, severity="error", timeout=8, markup=False)
            # Nothing of another ladder stays on screen (the screen is reused between calls).
            self.ladder, self.deviations, self.streams = None, [], []
            self.query_one("#ladder", LadderView).set_lines(LadderLines(lines=(), arrow_lines=()), [])
            self.query_one("#deviations", DataTable).clear(columns=True)
            self.query_one("#call-streams", DataTable).clear(columns=True)
            self.query_one("#detail", Static).update("")
            self.query_one("#deviation-detail", Static).update("")
            return
        view = self.query_one("#ladder", LadderView)
        view.set_lines(lines, [arrow_style(a) for a in self.ladder.arrows], cursor=cursor)
        self.show_arrow(view.cursor)
        sip = len(self.ladder.sip_arrows())
        title = Text(clean(self.ladder.title), style="bold")
        title.append(f"   {sip} messages · {len(self.ladder.arrows) - sip} media bars · "
                     f"{len(self.deviations)} deviations", style="")
        self.query_one("#ladder-title", Static).update(title)
        self._fill_deviations()
        problems = {key: tuple(a.marks) for a in self.ladder.arrows if a.kind == MEDIA for key in a.stream_keys}
        fill_streams_table(self.query_one("#call-streams", DataTable), self.streams, problems,
                           self.ladder_app.call_list.stream_calls)
        if not self.ladder.arrows:
            self.query_one("#detail", Static).update(Text("This call has no arrows to show."))

    def _fill_deviations(self) -> None:
        table = self.query_one("#deviations", DataTable)
        table.clear(columns=True)
        for key, label in (("severity", "Severity"), ("code", "Code"), ("f", "F"), ("message", "Message")):
            table.add_column(label, key=key)
        for number, deviation in enumerate(self.deviations):
            severity = str(deviation.severity)
            style = {"error": "bold red", "warning": "yellow"}.get(severity, "")
            fs = ", ".join(f"F{f}" for f in deviation.f) or "-"
            table.add_row(safe_rich_text(severity, style), safe_rich_text(deviation.code, "bold"), Text(fs),
                          safe_rich_text(deviation.message), key=str(number))
        if self.deviations:
            self.show_deviation(table.cursor_row)
        else:
            self.query_one("#deviation-detail", Static).update("")

    # --- cursor and detail ---------------------------------------------------------------------

    def on_ladder_view_arrow_selected(self, event: LadderView.ArrowSelected) -> None:
        self.show_arrow(event.index)

    def show_arrow(self, index: int) -> None:
        """The message (or media bar) ``index`` in the detail pane. ``rebuild`` shows the first
        one at once, so that the open paints it in its one layout; the cursor's message for the
        same arrow then changes nothing (each update of the pane lays the screen out again)."""
        if self.ladder is None or not (0 <= index < len(self.ladder.arrows)):
            return
        shown = self._shown_arrow
        if shown is not None and shown[0] is self.ladder and shown[1] == index:
            return
        self._shown_arrow = (self.ladder, index)
        arrow = self.ladder.arrows[index]
        detail = arrow_heading(self.ladder, arrow)
        detail.append("\n")
        if arrow.message is not None:
            detail.append_text(highlight_sip(arrow.message.raw))
        elif arrow.kind == MEDIA:
            keys = set(arrow.stream_keys)
            matching = [s for s in self.streams if s.key in keys]
            for stream in matching:
                detail.append_text(stream_detail(stream, tuple(arrow.marks)))
                detail.append("\n")
            if not matching:
                detail.append("No statistics for this media bar.\n")
        self.query_one("#detail", Static).update(detail)
        self.query_one("#detail-scroll", VerticalScroll).scroll_home(animate=False)

    def arrow_index_of_f(self, f: int) -> int | None:
        if self.ladder is None:
            return None
        return next((i for i, a in enumerate(self.ladder.arrows) if a.f == f), None)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.data_table.id == "call-streams":
            event.stop()
            self._jump_to_stream(self.streams[int(str(event.row_key.value))])
            return
        if event.data_table.id != "deviations":
            return
        event.stop()
        deviation = self.deviations[int(str(event.row_key.value))]
        for f in deviation.f:
            index = self.arrow_index_of_f(f)
            if index is not None:
                self._jump_to(index)
                return
        self.notify("This deviation names no message of the ladder.", severity="warning", markup=False)

    def _jump_to_stream(self, stream: "RtpStream") -> None:
        """Enter on a stream row: the cursor goes to the media bar that stands for it."""
        if self.ladder is None:
            return
        for index, arrow in enumerate(self.ladder.arrows):
            if arrow.kind == MEDIA and stream.key in arrow.stream_keys:
                self._jump_to(index)
                return
        self.notify("Media bars are hidden (m shows them).", severity="warning", timeout=2, markup=False)

    def _jump_to(self, index: int) -> None:
        """The cursor on arrow ``index``, the focus on the ladder, its message beside it."""
        view = self.query_one("#ladder", LadderView)
        view.display = True
        view.cursor = index
        view.focus()
        self.action_side("tab-message", focus=False)

    # --- actions -------------------------------------------------------------------------------

    def action_side(self, tab: str, *, focus: bool = True) -> None:
        """Show the pane ``tab`` and put the focus in it (its table, or the message text)."""
        side = self.query_one("#side", TabbedContent)
        side.display = True
        side.active = tab
        if focus:
            target = {"tab-deviations": "#deviations", "tab-call-streams": "#call-streams"}.get(tab)
            self.query_one(target or "#detail-scroll").focus()

    def focused_pane(self) -> str:
        focused = self.focused
        if focused is None or focused.id == "ladder":
            return "ladder"
        return self.query_one("#side", TabbedContent).active

    def action_next_pane(self, step: int) -> None:
        panes = self.PANES
        index = (panes.index(self.focused_pane()) + step) % len(panes)
        if panes[index] == "ladder":
            self.query_one("#ladder", LadderView).focus()
        else:
            self.action_side(panes[index])

    def action_zoom(self) -> None:
        """One pane full width: the ladder when it has the focus (small terminals, wide
        ladders), else the side pane, whose deviation texts then wrap at the full width; z
        again shows both."""
        side = self.query_one("#side", TabbedContent)
        view = self.query_one("#ladder", LadderView)
        if not view.display or not side.display:
            view.display = side.display = True
        elif self.focused_pane() == "ladder":
            side.display = False
        else:
            view.display = False

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id != "deviations" or event.row_key is None or event.row_key.value is None:
            return
        self.show_deviation(int(str(event.row_key.value)))

    def show_deviation(self, index: int) -> None:
        """The whole text of deviation ``index`` (under the table's cursor), wrapped, under the
        table; ``_fill_deviations`` shows the first at once, as ``show_arrow`` does."""
        if not 0 <= index < len(self.deviations):
            return
        shown = self._shown_deviation
        if shown is not None and shown[0] is self.deviations and shown[1] == index:
            return
        self._shown_deviation = (self.deviations, index)
        deviation = self.deviations[index]
        fs = ", ".join(f"F{f}" for f in deviation.f) or "no message"
        text = Text(f"{clean(deviation.code)} ({clean(deviation.severity)}) at {fs}\n", style="bold")
        text.append(clean(deviation.message))
        self.query_one("#deviation-detail", Static).update(text)

    def action_toggle_time(self) -> None:
        self.time_column = not self.time_column
        self.rebuild(cursor=self.query_one("#ladder", LadderView).cursor)

    def action_toggle_media(self) -> None:
        view = self.query_one("#ladder", LadderView)
        current = self.ladder.arrows[view.cursor] if self.ladder and self.ladder.arrows else None
        self.media = not self.media
        self.rebuild(cursor=0)
        if current is not None and current.f is not None:
            index = self.arrow_index_of_f(current.f)
            if index is not None:
                view.cursor = index
        self.notify("Media bars shown" if self.media else "Media bars hidden", timeout=1.5, markup=False)

    def action_compare(self) -> None:
        """``c`` on one message, then ``c`` on another: their headers side by side."""
        if self.ladder is None or not self.ladder.arrows:
            return
        index = self.query_one("#ladder", LadderView).cursor
        arrow = self.ladder.arrows[index]
        if arrow.message is None:
            self.notify("Only SIP messages can be compared.", severity="warning", timeout=2, markup=False)
            return
        first = self.compare_from
        left = self.ladder.arrows[first] if first is not None and first != index and first < len(self.ladder.arrows) else None
        if left is None or left.message is None:
            self.compare_from = index
            self.notify(f"{clean(arrow_label(arrow))} marked: move to another message and press c.",
                        timeout=3, markup=False)
            return
        self.compare_from = None
        from tui.compare_screen import CompareScreen

        self.app.push_screen(CompareScreen(arrow_label(left), left.message, arrow_label(arrow), arrow.message))

    def action_raw(self) -> None:
        if self.ladder is not None:
            self.app.push_screen(RawScreen(self.ladder))

    def action_save(self) -> None:
        self.ladder_app.ask_export(self.keys, ladder=self.ladder, time=self.time_column)

    def action_search(self) -> None:
        search = self.query_one("#search", Input)
        search.display = True
        search.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "search":
            self.search_text = event.value
            self.action_search_next()

    def action_back(self) -> None:
        search = self.query_one("#search", Input)
        if search.has_focus:  # Esc closes the search line first, then leaves the screen
            search.display = False
            self.query_one("#ladder", LadderView).focus()
            return
        self.ladder_app.action_leave()

    def action_search_next(self) -> None:
        if not self.search_text or self.ladder is None or not self.ladder.arrows:
            return
        needle = self.search_text.strip().lower()
        view = self.query_one("#ladder", LadderView)
        if re.fullmatch(r"f\d+", needle):  # "F12": straight to that arrow, as in the RFC's text
            index = self.arrow_index_of_f(int(needle[1:]))
            if index is not None:
                view.cursor = index
                return
        count = len(self.ladder.arrows)
        for step in range(1, count + 1):
            index = (view.cursor + step) % count
            arrow = self.ladder.arrows[index]
            haystack = arrow.label.lower()
            if arrow.message is not None:
                haystack += "\n" + arrow.message.raw.decode("utf-8", "replace").lower()
            if needle in haystack:
                view.cursor = index
                return
        self.notify(f"No message contains {clean(self.search_text)!r}.", severity="warning", timeout=2, markup=False)
