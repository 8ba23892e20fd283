"""Transactions (RFC 3261 §17) on RFC 3665 message texts."""

from __future__ import annotations

import dataclasses

from test_calls_rfc3665 import rfc3665_messages
from captures_crafted import udp_sip_frame, write_pcap
from conftest import shared_path
from ladder.calls.transactions import build_transactions
from ladder.capture.loader import load_capture


def test_each_proxy_hop_is_its_own_transaction():
    messages = rfc3665_messages("3.2")  # Alice -> Proxy 1 -> Proxy 2 -> Bob
    txns = build_transactions(messages)
    invites = [t for t in txns.transactions if t.method == "INVITE"]
    # F1 (challenged), then F4, F5, F7: one per hop; each hop's 100/180/200 on its own hop.
    assert [t.request.frames[0].number for t in invites] == [1, 4, 5, 7]
    assert [t.final_status for t in invites] == [407, 200, 200, 200]
    # F3 is the ACK of the 407: same branch, same transaction (§17.1.1.3).
    assert invites[0].ack is not None and invites[0].ack.frames[0].number == 3
    # F15..F17 ACK the 200: transactions of their own (§13.2.2.4).
    acks = [t for t in txns.transactions if t.method == "ACK"]
    assert [t.request.frames[0].number for t in acks] == [15, 16, 17]
    assert not any(txns.is_retransmission(m) for m in messages)


def test_retransmissions_are_marked_on_the_same_hop():
    messages = rfc3665_messages("3.10")  # F6..F11: "Resend of Message F4"
    txns = build_transactions(messages)
    marked = [m.frames[0].number for m in messages if txns.is_retransmission(m)]
    assert marked == [6, 7, 8, 9, 10, 11]
    assert txns.of(messages[5]) is txns.of(messages[3])


def test_cancel_is_its_own_transaction_linked_to_the_invite():
    messages = rfc3665_messages("3.8")
    txns = build_transactions(messages)
    cancels = [t for t in txns.transactions if t.method == "CANCEL"]
    assert len(cancels) == 3  # hop by hop: F9, F11, F13
    for cancel in cancels:
        assert cancel.cancels is not None and cancel.cancels.method == "INVITE"
        assert cancel.cancels.cancel is cancel
        assert cancel.final_status == 200
        assert cancel.cancels.final_status == 487


def test_rfc2543_branch_without_magic_cookie_still_matches():
    original = rfc3665_messages("3.9")[:11]
    old = []
    for message in original:
        vias = tuple(dataclasses.replace(v, branch=(v.branch or "").replace("z9hG4bK", "old"))
                     for v in message.vias)
        old.append(dataclasses.replace(message, vias=vias))
    txns = build_transactions(old)
    invites = [t for t in txns.transactions if t.method == "INVITE"]
    assert all(t.rfc2543 for t in invites)
    assert [t.final_status for t in invites] == [486, 486, 486]
    assert all(t.ack is not None for t in invites)  # hop-by-hop ACKs of the 486


def test_a_provisional_with_a_new_body_is_no_retransmission():
    # RFC 3261 §17.2.1: a retransmission is the same response again. A UAS may send a second
    # 180 that carries the early-media SDP the first did not: a new response, not a repeat.
    messages = rfc3665_messages("3.1")
    ringing = next(m for m in messages if m.status == 180)
    answer = next(m for m in messages if m.status == 200 and m.sdp is not None)
    with_sdp = dataclasses.replace(ringing, body=answer.body, content_type=answer.content_type,
                                   frames=(dataclasses.replace(ringing.frames[0], number=99),))
    again = dataclasses.replace(with_sdp, frames=(dataclasses.replace(ringing.frames[0], number=100),))
    at = messages.index(ringing) + 1
    txns = build_transactions(messages[:at] + [with_sdp, again] + messages[at:])
    assert not txns.is_retransmission(with_sdp)  # a body the first 180 did not have
    assert txns.is_retransmission(again)  # the same 180 with SDP once more


def test_t38_183_with_sdp_after_183_without_is_no_retransmission():
    # wireshark-wiki T38.pcap: 183 without SDP, then 183 with SDP 42 ms later (capture copies aside).
    capture = load_capture(str(shared_path("captures/wireshark-wiki/T38.pcap")), media=False)
    progress = [m for m in capture.sip_messages if m.status == 183]
    txns = build_transactions(capture.sip_messages)
    firsts = {bool(m.body): m for m in reversed(progress)}  # the first of each kind
    assert set(firsts) == {False, True}
    assert not any(txns.is_retransmission(m) for m in firsts.values())


def _reliable_ringing_capture(tmp_path):
    """RFC 3262 §3's flow (``samples/rfc3262-3-prack.pcap``, its own bytes) with its reliable
    180 (RSeq 988789) sent twice more: once again as it was (a retransmission), and, after the
    PRACK, once with the next RSeq and nothing else changed (a second reliable provisional)."""
    sample = load_capture("samples/rfc3262-3-prack.pcap", media=False)
    messages = sample.sip_messages
    ringing = messages[1]
    assert ringing.status == 180 and ringing.header("RSeq") == "988789"
    next_one = ringing.raw.replace(b"RSeq: 988789", b"RSeq: 988790")
    assert next_one != ringing.raw
    flow = [m.raw for m in messages[:2]] + [ringing.raw] + [m.raw for m in messages[2:4]] \
        + [next_one] + [m.raw for m in messages[4:]]
    frames = []
    for n, raw in enumerate(flow):
        ts = 1_000_000_000 + n * 600_000_000  # T1 apart: never a capture copy
        toward_caller = raw.startswith(b"SIP/2.0") == (b"CSeq: 1 BYE" not in raw)
        src, dst = ("192.0.2.2", "192.0.2.1") if toward_caller else ("192.0.2.1", "192.0.2.2")
        frames.append((ts, udp_sip_frame(raw, src, dst)))
    return write_pcap(tmp_path / "reliable-180.pcap", frames)


def test_a_reliable_provisional_with_the_next_rseq_is_no_retransmission(tmp_path):
    # RFC 3262 §4: "A response is a retransmission when its dialog ID, CSeq, and RSeq match the
    # original response." The same 180 with the next RSeq is a new reliable provisional.
    from ladder.calls.bounded import iter_calls

    path = _reliable_ringing_capture(tmp_path)
    full = load_capture(str(path), media=False)
    located = load_capture(str(path), media=False, messages=False, locate=True)
    for messages in (full.sip_messages, next(iter_calls(located)).messages):
        ringing = [m for m in messages if m.status == 180]
        assert [m.header("RSeq") for m in ringing] == ["988789", "988789", "988790"]
        txns = build_transactions(messages)
        assert [txns.is_retransmission(m) for m in ringing] == [False, True, False]
        assert not any(txns.is_retransmission(m) for m in messages if m.status != 180)
