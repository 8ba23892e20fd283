"""``fold_duplicates`` (capture copies, ``ladder.calls.duplicates``) on a sample's real messages
re-timed: a copy within ``DUPLICATE_WINDOW_NS`` of the last kept message with the same bytes and
addresses is folded into it; later, earlier, or between other addresses it is a message again."""

from __future__ import annotations

from pathlib import Path

from ladder.calls.duplicates import DUPLICATE_WINDOW_NS, fold_duplicates
from ladder.capture.loader import load_capture

SAMPLE = Path(__file__).resolve().parents[3] / "samples" / "rfc3665-3.1-successful-session.pcap"


def test_copies_fold_into_the_last_kept_message_within_the_window():
    invite, ringing = load_capture(str(SAMPLE), media=False).sip_messages[:3:2]
    t = invite.ts_ns
    w = DUPLICATE_WINDOW_NS

    def at(message, ts_ns, src=None):
        return message.with_context(src or message.src, message.dst, message.frames, ts_ns)

    messages = [
        at(invite, t),             # kept
        at(invite, t + w // 10),   # a copy of the first
        at(ringing, t + w // 5),   # other bytes: kept
        at(invite, t + w),         # at the window's edge: a copy of the first
        at(invite, t + 3 * w),     # past it (a retransmission): kept
        at(invite, t + 3 * w + 1),  # a copy of the one before, not of the first
        at(invite, t + 3 * w + 2, src=invite.dst),  # another sender: kept
        at(invite, t + 3 * w - 1),  # earlier than the last kept one: kept
    ]  # fmt: skip
    kept, copies = fold_duplicates(messages)
    assert [messages.index(m) for m in kept] == [0, 2, 4, 6, 7]
    assert {messages.index(next(m for m in kept if id(m) == key)): [messages.index(c) for c in value]
            for key, value in copies.items()} == {0: [1, 3], 4: [5]}
    assert fold_duplicates([messages[0], messages[0]]) == ([messages[0]], {id(messages[0]): (messages[0],)})
