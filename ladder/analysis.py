"""One analysis of a capture: its calls, their legs and the media bound to them, computed once.

``analyse(capture) -> Analysis`` groups the SIP messages into calls (``ladder.calls.grouping``) and binds
every RTP stream to at most one call (``ladder.media.binding.MediaIndex``: one ``bind_media`` over all
calls, streams indexed once). ``ladder show``, ``check``, ``export``, ``streams``, the HTML report
and the TUI all draw ladders and checks from it, so a stream on reused ports is attributed to the
same single call everywhere, and a whole-capture command costs time linear in calls and streams.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ladder.draw.aliases import AliasMap
from ladder.calls.grouping import Call, build_calls
from ladder.capture.loader import Capture
from ladder.check.call_check import CheckResult, check_call
from ladder.draw.diagram import Ladder
from ladder.draw.layout import build_ladder
from ladder.media.binding import MediaIndex
from ladder.check.references import Reference
from ladder.check.rules import RuleSettings


@dataclass(frozen=True, slots=True, eq=False)
class Analysis:
    """A capture's calls and media, each decided once. ``media`` is False when RTP analysis
    was turned off (``--no-media``): no bars, no media checks."""

    capture: Capture
    calls: list[Call]
    media_index: MediaIndex
    media: bool = True

    def ladder(self, calls: Call | list[Call], *, aliases: AliasMap | None = None) -> Ladder:
        """The ladder of one call, or of several drawn as one, with the capture's bindings."""
        return build_ladder(calls, self.capture, aliases=aliases, media=self.media, bindings=self.media_index)

    def check(self, calls: Call | list[Call], references: Sequence[Reference], *, reference: str = "auto",
              ladder: Ladder | None = None, ignore: Iterable[str] = (),
              settings: RuleSettings | None = None) -> CheckResult:
        """``check_call`` against the capture's bindings (not a binding of this call alone).
        Without ``ladder``: what ``self.ladder(calls)`` would show, not drawn (``check_call``)."""
        return check_call(calls, self.capture, references, reference=reference, ladder=ladder, ignore=ignore,
                          settings=settings or RuleSettings(end_ns=self.capture.last_ts_ns),
                          media=self.media_index, bars=self.media)

    def call_of_stream(self) -> dict[tuple[str, str, int], str]:
        """RTP stream key -> the id of the call it belongs to (bound streams only)."""
        return {b.stream.key: b.call_id for b in self.media_index.bindings}


def analyse(capture: Capture, *, media: bool = True) -> Analysis:
    """Calls and media of ``capture``: ``build_calls`` once, ``bind_media`` once."""
    calls = build_calls(capture)
    streams = capture.streams if media else []
    return Analysis(capture, calls, MediaIndex.build(calls, streams), media)
