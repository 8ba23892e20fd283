"""The fast lane of ``iter_call_rows`` (``ladder.calls.simple_calls``) gives exactly the rows the
slow lane gives: ``ladder calls``' table and JSON, the TUI's call list and what the catalogue
keeps of each call, on every sample, the shared corpus and captures crafted to break each clause
of its predicate, each of which must send its call to the slow lane."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from captures_crafted import ethernet, ipv4, tcp, udp_sip_frame, write_pcap
from conftest import ROOT, SAMPLES
from ladder.calls import simple_calls
from ladder.calls.bounded import iter_call_rows
from ladder.calls.legs import _caller, _target
from ladder.calls.catalogue import CallCatalogue
from ladder.calls.legs import LinkWindow
from ladder.capture.loader import load_capture
from ladder.cli.calls import _numbered_dict, _numbered_row, call_dict, table_row
from ladder.errors import CaptureError
from tui.bounded_load import _Damage, _numbered_values, _row_values

pytestmark = pytest.mark.skipif(simple_calls._c_simple_calls is None, reason="the compiled extension is not built")

CAPTURE_SUFFIXES = (".pcap", ".pcapng", ".cap", ".gz")


def _rows(capture) -> tuple:
    """Every row function's rows of the capture, what the catalogue keeps of each call and the
    TUI's count of damaged messages (its summary of a call, as ``load_bounded`` makes it)."""
    catalogue = CallCatalogue(capture)
    damage = _Damage(capture.message_store)

    def summary(call) -> tuple:
        damage.count(call)
        return _row_values(call)

    tui = list(catalogue.fill(summary, _numbered_values))
    kept = (catalogue._number, catalogue._members.tobytes(), catalogue._starts.tobytes(),
            [catalogue._kinds[code] for code in catalogue._kind_codes], catalogue._rare, damage.bad,
            bytes(damage._seen))
    return (list(iter_call_rows(capture, call_dict, _numbered_dict)),
            list(iter_call_rows(capture, table_row, _numbered_row)), tui, kept)


def _taken(monkeypatch) -> list[str]:
    """The Call-IDs the fast lane sums up from now on."""
    taken: list[str] = []
    take = simple_calls.SimpleLane.take

    def counted(self, g, cid, kept, numbers):
        found = take(self, g, cid, kept, numbers)
        if found is not None:
            taken.append(cid)
            leg, parties = found[0], found[3]  # the window's (caller, target), when C read From/To as plain
            assert parties is None or parties == (_caller(leg.request), _target(leg.request)), cid
        return found

    monkeypatch.setattr(simple_calls.SimpleLane, "take", counted)
    return taken


def _given(monkeypatch) -> list[tuple]:
    """What pass 2 gives the links across Call-IDs (``LinkWindow.add``) from now on: each leg's
    fields (its request as the links read it), its Call-ID's last leg time and failure; a leg
    given as a call's (``call=True``, the lane's) must be one (the kind the window would ask)."""
    given: list[tuple] = []
    add = LinkWindow.add

    def recorded(self, leg, last_ns, failed=False, parties=None, call=False):
        r = leg.request
        assert not call or self.call_kind.get(leg.call_id) == "call"
        if parties is None:  # (the window reads them of the request)
            parties = (_caller(r), _target(r))
        given.append((leg.call_id, leg.method, leg.src, leg.dst, leg.ts_ns, leg.final_ns, last_ns, failed, parties,
                      r.from_tag, r.request_uri, r.from_uri, r.to_uri, len(r.vias), r.header("To")))
        return add(self, leg, last_ns, failed, parties, call)

    monkeypatch.setattr(LinkWindow, "add", recorded)
    return given


def _assert_same_rows(path: Path, monkeypatch) -> tuple[int, int] | None:
    """Rows, and the legs given to the links, with the lane on equal those with it off; (calls,
    calls the lane took)."""
    try:
        capture = load_capture(str(path), media=False, messages=False, locate=True)
    except CaptureError:
        return None
    monkeypatch.delenv("PCAPLADDER_NO_SIMPLE_CALLS", raising=False)
    taken, given = _taken(monkeypatch), _given(monkeypatch)
    fast = _rows(capture) + (list(given),)
    monkeypatch.undo()
    monkeypatch.setenv("PCAPLADDER_NO_SIMPLE_CALLS", "1")
    given = _given(monkeypatch)
    slow = _rows(capture) + (list(given),)
    monkeypatch.undo()
    for got, want in zip(fast, slow):
        assert got == want, path.name
    return len(fast[0]), len(set(taken))


def test_samples_rows_equal_with_and_without_the_lane(monkeypatch):
    found = [_assert_same_rows(p, monkeypatch) for p in sorted(SAMPLES.iterdir()) if p.suffix in CAPTURE_SUFFIXES]
    assert sum(f[0] for f in found if f is not None) >= 35  # (their calls run over TCP: the slow lane's)


def test_corpus_rows_equal_with_and_without_the_lane(corpus, monkeypatch):
    found = [_assert_same_rows(p, monkeypatch) for p in corpus.paths]
    assert sum(f[0] for f in found if f is not None) > (100 if corpus.whole else 0)


# -- crafted calls: a simple one, and one variant per clause of the predicate -----------------

SDP = b"v=0\r\no=a 1 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n"


def _simple(k: int) -> list[dict]:
    """INVITE / 100 / 180 / 200 / ACK / BYE / 200 of call k (ms from its start, sent by the caller)."""
    return [
        dict(t=0, up=True, line=f"INVITE sip:bob{k}@example.com SIP/2.0", branch=1, cseq="1 INVITE", sdp=True),
        dict(t=10, up=False, line="SIP/2.0 100 Trying", branch=1, cseq="1 INVITE"),
        dict(t=100, up=False, line="SIP/2.0 180 Ringing", branch=1, cseq="1 INVITE", tag="t"),
        dict(t=2000, up=False, line="SIP/2.0 200 OK", branch=1, cseq="1 INVITE", tag="t", sdp=True),
        dict(t=2010, up=True, line=f"ACK sip:bob{k}@192.0.2.9 SIP/2.0", branch=2, cseq="1 ACK", tag="t"),
        dict(t=30000, up=True, line=f"BYE sip:bob{k}@192.0.2.9 SIP/2.0", branch=3, cseq="2 BYE", tag="t"),
        dict(t=30010, up=False, line="SIP/2.0 200 OK", branch=3, cseq="2 BYE", tag="t"),
    ]


def _cancelling(k: int) -> tuple[dict, dict, dict, dict]:
    """The CANCEL of call k's INVITE (its branch and CSeq number, no To tag), its 200, the 487
    and the ACK of the 487 (RFC 3665 §3.8)."""
    return (dict(t=900, up=True, line=f"CANCEL sip:bob{k}@example.com SIP/2.0", branch=1, cseq="1 CANCEL"),
            dict(t=910, up=False, line="SIP/2.0 200 OK", branch=1, cseq="1 CANCEL", tag="t"),
            dict(t=920, up=False, line="SIP/2.0 487 Request Terminated", branch=1, cseq="1 INVITE", tag="t"),
            dict(t=930, up=True, line=f"ACK sip:bob{k}@example.com SIP/2.0", branch=1, cseq="1 ACK", tag="t"))


def _prack(k: int) -> list[dict]:
    """INVITE / 100 / 183 (100rel) / PRACK / 200 (PRACK) / 200 / ACK / BYE / 200 of call k (RFC 3262 §3)."""
    s = _simple(k)
    return s[:2] + [
        dict(t=300, up=False, line="SIP/2.0 183 Session Progress", branch=1, cseq="1 INVITE", tag="t", sdp=True,
             extra="Require: 100rel\r\nRSeq: 1\r\n"),
        dict(t=310, up=True, line=f"PRACK sip:bob{k}@192.0.2.9 SIP/2.0", branch=6, cseq="2 PRACK", tag="t",
             extra="RAck: 1 1 INVITE\r\n"),
        dict(t=320, up=False, line="SIP/2.0 200 OK", branch=6, cseq="2 PRACK", tag="t")] + s[3:5] + [
        dict(s[5], cseq="3 BYE"), dict(s[6], cseq="3 BYE")]


def _challenged(k: int, then: list[dict], status: str = "407 Proxy Authentication Required") -> list[dict]:
    """INVITE / 407 (a proxy's To tag) / ACK, then call k's ``then`` (a shape starting with its
    INVITE) sent again with credentials: 50 ms later, each CSeq number one higher, the INVITE's
    branch a new one (RFC 3665 §3.2 F1-F4, RFC 3261 §22.2)."""
    header = "Proxy-Authorization" if status.startswith("407") else "Authorization"
    credentials = (f'{header}: Digest username="alice{k}", realm="example.com", nonce="n{k}", '
                   f'uri="sip:bob{k}@example.com", response="0123456789abcdef0123456789abcdef"\r\n')
    first = dict(then[0], sdp=True)
    retry = []
    for m in then:
        number, method = m["cseq"].split()
        m = dict(m, t=m["t"] + 50, cseq=f"{int(number) + 1} {method}", branch=4 if m["branch"] == 1 else m["branch"])
        if "RAck" in m.get("extra", ""):
            m["extra"] = m["extra"].replace(" 1 INVITE", " 2 INVITE")
        retry.append(m)
    retry = [dict(m, extra=m.get("extra", "") + credentials) if m["line"].startswith("INVITE") else m for m in retry]
    return [first, dict(t=20, up=False, line=f"SIP/2.0 {status}", branch=1, cseq="1 INVITE", tag="p"),
            dict(t=30, up=True, line=f"ACK sip:bob{k}@example.com SIP/2.0", branch=1, cseq="1 ACK", tag="p")] + retry


def _with(messages: list[dict], at: int, **changes) -> list[dict]:
    out = [dict(m) for m in messages]
    out[at].update(changes)
    return out


def _variants(k: int) -> dict[str, list[dict]]:
    """Name -> messages; those named ``simple...`` the lane must take, every other it must not."""
    s = _simple(k)
    cancel, ok, terminated, ack = _cancelling(k)
    cancelled = s[:3] + [cancel, ok, terminated, ack]
    prack = _prack(k)
    failed = s[:3] + [dict(s[3], line="SIP/2.0 486 Busy Here", sdp=False), dict(s[4], branch=1)]
    challenged = _challenged(k, s)
    again = _challenged(k, s[:2] + [dict(s[2], line="SIP/2.0 407 Proxy Authentication Required", tag="q"),
                                    dict(s[4], branch=1, tag="q")])
    return {
        "simple": s,
        "simple-no-bye": s[:5],
        "simple-callee-hangs-up": s[:5] + [_with(s, 5, up=False, swap=True)[5], _with(s, 6, up=True, swap=True)[6]],
        "simple-bye-before-the-200": s[:3] + [dict(s[5], t=500), dict(s[6], t=510), s[3], s[4]],
        # From and To C leaves to Python (an escape, a display name with a comma), or reads itself
        "simple-odd-from": [dict(m, frm=f'"Alice, A." <sip:al%69ce{k}@example.com>') for m in s],
        "simple-uri-parameters": [dict(m, to=f"Bob <sip:+1555{k}@Example.COM:5070;user=phone>;x=1") for m in s],
        "unplain-to": [dict(m, to=f"Bob Smith, Jr <sip:bob{k}@example.com>") for m in s],  # S11
        "no-to-in-the-100": _with(s, 1, to=None),  # S11 (a damaged message)
        "invite-again-within-the-window": s[:1] + [dict(s[0], t=5)] + s[1:],  # S4 (a capture copy)
        "invite-again-at-the-window": s[:1] + [dict(s[0], t=10), dict(s[1], t=20)] + s[2:],  # S4 (10 ms: a copy)
        "capture-copy": s[:4] + [dict(s[3], t=2001)] + s[4:],  # S4
        # exact retransmissions (RFC 3261 §17): the same bytes the same way, past the window
        "simple-invite-retransmitted": s[:1] + [dict(s[0], t=11), dict(s[1], t=20)] + s[2:],
        "simple-invite-retransmitted-twice": s[:1] + [dict(s[0], t=500), dict(s[0], t=1500)] + s[2:],
        "simple-200-retransmitted": s[:5] + [dict(s[3], t=2500), dict(s[4], t=2510)] + s[5:],
        "simple-bye-retransmitted": s[:6] + [dict(s[5], t=30500), dict(s[6], t=30510)],
        "simple-486-retransmitted": s[:3] + [dict(s[3], line="SIP/2.0 486 Busy Here", sdp=False),
                                             dict(s[4], branch=1),
                                             dict(s[3], t=2500, line="SIP/2.0 486 Busy Here", sdp=False),
                                             dict(s[4], t=2510, branch=1)],
        "simple-cancel-retransmitted": s[:3] + [cancel, dict(cancel, t=905 + 500), dict(ok, t=1410),
                                                dict(terminated, t=1420), dict(ack, t=1430)],
        "the-same-bytes-the-other-way": s[:3] + [dict(s[1], t=500, up=True)] + s[3:],  # S4
        # (talk_time ends at the BYE sent again: call_timings' first BYE after the answer)
        "simple-bye-before-the-200-sent-again-after-it": s[:3] + [dict(s[5], t=500), dict(s[6], t=510), s[3],
                                                                  s[4], dict(s[5], t=3000)],
        # CANCEL (RFC 3665 §3.8): after ringing, before any 1xx, a 200 or a 486 crossing it
        "simple-cancel": cancelled,
        "simple-cancel-before-any-1xx": s[:1] + [cancel, ok, terminated, ack],
        "simple-cancel-crossed-by-the-200": s[:3] + [cancel, dict(s[3], t=905), ok] + s[4:],
        "simple-cancel-crossed-by-a-486": s[:3] + [cancel, dict(terminated, t=905, line="SIP/2.0 486 Busy Here"),
                                                   ok, ack],
        "cancel-without-a-final": s[:3] + [cancel, ok],  # S8
        "cancel-of-its-own-branch": s[:3] + [dict(cancel, branch=4), dict(ok, branch=4), terminated, ack],  # S6
        "cancel-with-a-to-tag": s[:3] + [dict(cancel, tag="t"), ok, terminated, ack],  # S6
        "cancel-from-the-callee": s[:3] + [dict(cancel, up=False), dict(ok, up=True), terminated, ack],  # S6
        "cancel-of-another-cseq": s[:3] + [dict(cancel, cseq="2 CANCEL"), dict(ok, cseq="2 CANCEL"), terminated,
                                           ack],  # S6
        "two-cancels": s[:3] + [cancel, dict(cancel, t=905, extra="Max-Forwards: 69\r\n"), ok, terminated,
                                ack],  # S6
        "cancel-after-the-ack": s[:3] + [terminated, ack, dict(cancel, t=940), dict(ok, t=950)],  # S6
        "cancel-answered-twice": s[:3] + [cancel, ok, dict(ok, t=915, extra="Server: again\r\n"), terminated,
                                          ack],  # S7
        "cancel-answered-with-another-to-tag": s[:3] + [cancel, dict(ok, tag="u"), terminated, ack],  # S9
        # PRACK (RFC 3262 §3): a reliable 183 and its PRACK; then cancelled
        "simple-prack": prack,
        "simple-prack-then-cancel": prack[:5] + [dict(cancel, t=1500), dict(ok, t=1510), dict(terminated, t=1520),
                                                 dict(ack, t=1530)],
        "two-reliable-183s": prack[:5] + [dict(prack[2], t=700, extra="Require: 100rel\r\nRSeq: 2\r\n"),
                                          dict(prack[3], t=710, branch=7, extra="RAck: 2 1 INVITE\r\n"),
                                          dict(prack[4], t=720, branch=7)] + prack[5:],  # S7
        "prack-without-a-to-tag": [dict(m, tag=None) if m["cseq"] == "2 PRACK" and m["line"].startswith("PRACK")
                                   else m for m in prack],  # S6
        "prack-on-the-invite-branch": [dict(m, branch=1) if m["cseq"] == "2 PRACK" else m for m in prack],  # S6
        # failures: the ACK in the INVITE's transaction (its branch), or in one of its own
        "simple-486": s[:3] + [dict(s[3], line="SIP/2.0 486 Busy Here", sdp=False), dict(s[4], branch=1)],
        "simple-404-ack-own-branch": s[:2] + [dict(s[3], line="SIP/2.0 404 Not Found", sdp=False), s[4]],
        "simple-603-no-reason": s[:3] + [dict(s[3], line="SIP/2.0 603", sdp=False), dict(s[4], branch=1)],
        "simple-302": s[:2] + [dict(s[3], line="SIP/2.0 302 Moved Temporarily", sdp=False), dict(s[4], branch=1)],
        "failure-then-200": s[:3] + [dict(s[3], t=1000, line="SIP/2.0 480 Temporarily Unavailable", sdp=False),
                                     s[3], s[4]],  # S8
        "bye-after-failure": s[:3] + [dict(s[3], line="SIP/2.0 486 Busy Here", sdp=False), dict(s[4], branch=1),
                                      s[5], s[6]],  # S8
        "two-acks-of-a-failure": s[:3] + [dict(s[3], line="SIP/2.0 486 Busy Here", sdp=False), dict(s[4], branch=1),
                                          dict(s[4], t=2500, branch=1, extra="Max-Forwards: 69\r\n")],  # S6
        "ack-of-a-2xx-on-the-invite-branch": _with(s, 4, branch=1),  # S6
        "re-invite": s[:5] + [dict(t=9000, up=True, line=f"INVITE sip:bob{k}@192.0.2.9 SIP/2.0", branch=4,
                                   cseq="3 INVITE", tag="t", sdp=True),
                              dict(t=9010, up=False, line="SIP/2.0 200 OK", branch=4, cseq="3 INVITE", tag="t"),
                              dict(t=9020, up=True, line=f"ACK sip:bob{k}@192.0.2.9 SIP/2.0", branch=5,
                                   cseq="3 ACK", tag="t")] + s[5:],  # S5
        "forked-to-tags": s[:3] + [dict(m, tag="u") for m in s[3:]],  # S9
        "equal-times": _with(s, 2, t=10),  # S3
        "ringing-only": s[:3],  # S8
        "response-the-same-way": _with(s, 2, up=True),  # S7
        "third-endpoint": _with(s, 3, port=5062),  # S2
        "simple-one-address": [dict(m, same_ip=True) for m in s],  # two ports of one address (SIPp on loopback)
        "one-socket": [dict(m, same_ip=True, port=5060) for m in s],  # S2: one endpoint
        "no-cookie": [dict(m, cookie="") for m in s],  # S1
        # correlation headers: naming no Call-ID of the capture; naming the first call's (linked)
        "simple-correlation-header": _with(s, 0, extra=f"X-Call-ID: other-{k}@test\r\n"),
        "simple-linked-by-x-call-id": _with(s, 0, extra=f"X-Call-ID: call-{k + 1}@test\r\n"),
        "two-vias": [dict(m, vias=2) for m in s],  # S10
        "repeated-status": s[:3] + [dict(s[2], t=150, extra="Server: again\r\n")] + s[3:],  # S7
        "bye-without-to-tag": _with(s, 5, tag=None),  # S6
        "response-to-nothing": _with(s, 6, branch=9),  # S7
        "lower-case-invite": _with(s, 0, line=f"invite sip:bob{k}@example.com SIP/2.0"),  # S5
        # challenged (RFC 3665 §3.2): the INVITE again with credentials, then any shape above
        "simple-challenged": challenged,
        "simple-challenged-401": _challenged(k, s, "401 Unauthorized"),
        "simple-challenged-then-486": _challenged(k, failed),
        "simple-challenged-then-cancel": _challenged(k, cancelled),
        "simple-challenged-then-prack": _challenged(k, prack),
        "simple-challenged-then-cancel-after-prack": _challenged(k, prack[:5] + [
            dict(cancel, t=1500), dict(ok, t=1510), dict(terminated, t=1520), dict(ack, t=1530)]),
        "simple-challenged-invite-retransmitted": _challenged(k, s[:1] + [dict(s[0], t=11), dict(s[1], t=20)]
                                                             + s[2:]),
        "simple-challenge-and-its-ack-sent-again": challenged[:3] + [dict(challenged[1], t=35),
                                                                     dict(challenged[2], t=45)] + challenged[3:],
        "simple-challenged-after-a-100": challenged[:1] + [s[1]] + challenged[1:],
        "simple-challenged-again": again,  # rejected with the second 407: no third attempt in the capture
        "retry-with-another-from-tag": [dict(m, ftag="g") if m["t"] >= 50 else m for m in challenged],  # S5
        "retry-with-the-same-cseq": [dict(m, cseq="1 INVITE") if m["cseq"] == "2 INVITE" else m
                                     for m in challenged],  # S5
        "retry-on-the-same-branch": [dict(m, branch=1) if m["branch"] == 4 else m for m in challenged],  # S5
        "retry-from-the-callee": [dict(m, up=not m["up"]) if m["branch"] == 4 else m for m in challenged],  # S5
        "retry-with-a-to-tag": _with(challenged, 3, tag="p"),  # S5
        "retry-to-another-port": [dict(m, port=5062) if m["t"] >= 50 else m for m in challenged],  # S2
        "third-invite": again + [dict(m, t=m["t"] + 3000, cseq="3 " + m["cseq"].split()[1],
                                      branch=5 if m["branch"] == 4 else m["branch"]) for m in challenged[3:]],  # S5
        "challenge-not-acked": challenged[:2] + challenged[3:],  # S5
        "challenge-acked-after-the-retry": challenged[:2] + [challenged[3], dict(challenged[2], t=55)]
        + challenged[4:],  # S5
        "retry-before-the-challenge": [challenged[0], dict(challenged[3], t=15), challenged[1], challenged[2]]
        + challenged[4:],  # S5
        "retry-after-a-486": _challenged(k, s, "486 Busy Here"),  # S5: only an auth challenge
        "first-invite-answered-after-the-retry": challenged[:4] + [dict(challenged[1], t=55, line="SIP/2.0 200 OK",
                                                                        tag="p")] + challenged[4:],  # S7
        "challenged-then-re-invite": _challenged(k, s[:5] + [
            dict(t=9000, up=True, line=f"INVITE sip:bob{k}@192.0.2.9 SIP/2.0", branch=5, cseq="3 INVITE", tag="t"),
            dict(t=9010, up=False, line="SIP/2.0 200 OK", branch=5, cseq="3 INVITE", tag="t"),
            dict(t=9020, up=True, line=f"ACK sip:bob{k}@192.0.2.9 SIP/2.0", branch=6, cseq="3 ACK", tag="t")]
            + [dict(m, cseq="4 BYE") for m in s[5:]]),  # S5
    }


def _bytes(k: int, m: dict) -> bytes:
    caller_ip, callee_ip = f"10.{k}.0.1", f"10.{k}.1.1"
    caller = m.get("frm", f"Alice{k} <sip:alice{k}@example.com>") + f";tag={m.get('ftag', 'f')}{k}"
    callee = m.get("to", f"<sip:bob{k}@example.com>")
    if m.get("tag") and callee is not None:
        callee += f";tag={m['tag']}{k}"
    if m.get("swap"):  # a request of the callee's: From and To the other way
        caller, callee = callee, caller
    to_line = "" if callee is None else f"To: {callee}\r\n"
    via_host = callee_ip if m.get("swap") else caller_ip
    vias = [f"Via: SIP/2.0/UDP {via_host}:5060;branch={m.get('cookie', 'z9hG4bK')}-{k}-{m['branch']}\r\n"]
    if m.get("vias") == 2:
        vias.append(f"Via: SIP/2.0/UDP 10.{k}.2.1:5060;branch=z9hG4bK-{k}-p\r\n")
    body = SDP.replace(b"{ip}", (caller_ip if m["up"] else callee_ip).encode()) if m.get("sdp") else b""
    head = (m["line"] + "\r\n" + "".join(vias) + f"From: {caller}\r\n{to_line}Call-ID: call-{k}@test\r\n"
            f"CSeq: {m['cseq']}\r\nContact: <sip:x@{caller_ip if m['up'] else callee_ip}>\r\n" + m.get("extra", "")
            + ("Content-Type: application/sdp\r\n" if body else "") + f"Content-Length: {len(body)}\r\n\r\n")
    return head.encode() + body


def _ends(k: int, m: dict) -> tuple[str, str, int, int]:
    a, b = f"10.{k}.0.1", (f"10.{k}.0.1" if m.get("same_ip") else f"10.{k}.1.1")
    a_port, b_port = 5060, m.get("port", 5062 if m.get("same_ip") else 5060)
    return (a, b, a_port, b_port) if m["up"] else (b, a, b_port, a_port)


def _write(path: Path, calls: dict[str, list[dict]], tcp_calls: frozenset[str] = frozenset()) -> dict[str, str]:
    """The calls in one capture, 100 s apart, each between its own addresses; Call-ID -> name."""
    packets, names, seq = [], {}, {}
    for k, (name, messages) in enumerate(calls.items(), start=1):
        names[f"call-{k}@test"] = name
        for m in messages:
            src, dst, sport, dport = _ends(k, m)
            data, ts = _bytes(k, m), (k * 100_000 + m["t"]) * 1_000_000
            if name in tcp_calls:
                at = seq.setdefault((src, dst), 1000)
                seq[(src, dst)] = at + len(data)
                packets.append((ts, ethernet(ipv4(tcp(data, sport, dport, at), src, dst, proto=6))))
            else:
                packets.append((ts, udp_sip_frame(data, src, dst, sport, dport)))
    packets.sort(key=lambda p: p[0])
    write_pcap(path, packets)
    return names


def test_each_clause_sends_its_call_to_the_slow_lane(tmp_path, monkeypatch):
    calls = _variants(0)
    calls = {name: [dict(m) for m in messages] for name, messages in calls.items()}
    calls["simple-over-tcp"] = _simple(0)  # S1, S2: in the spill file, of Python's endpoints (TCP)
    names = _write(tmp_path / "variants.pcap", calls, frozenset({"simple-over-tcp"}))
    taken = _taken(monkeypatch)
    capture = load_capture(str(tmp_path / "variants.pcap"), media=False, messages=False, locate=True)
    rows = list(iter_call_rows(capture, call_dict, _numbered_dict))
    assert {cid for row in rows for cid in row["call_ids"]} == set(names)
    assert sorted(names[cid] for cid in taken) == sorted(name for name in calls if name.startswith("simple"))
    # The call an X-Call-ID names and the call naming it are one call, as without the lane.
    linked = [row for row in rows if len(row["call_ids"]) > 1]
    assert [[names[cid] for cid in row["call_ids"]] for row in linked] == [["simple", "simple-linked-by-x-call-id"]]
    assert linked[0]["links"][0]["reason"].startswith("X-Call-ID of ")
    monkeypatch.undo()
    assert _rows(capture)[3][5] == 3  # the TUI counts as damaged the 100 without a To, the untagged ones of unplain-to
    simple = sum(name.startswith("simple") for name in calls)
    assert _assert_same_rows(tmp_path / "variants.pcap", monkeypatch) == (len(calls) - 1, simple)


def test_cancelled_and_prack_calls_read_as_their_flows_say(tmp_path, monkeypatch):
    """The lane's rows of the CANCEL and PRACK shapes say what RFC 3665 §3.8 and RFC 3262 §3
    flows are: cancelled with the 487 (or the 486 that crossed the CANCEL, no talk), answered
    when the 200 crossed the CANCEL; a PRACK is no BYE and no answer."""
    shapes = ("simple-cancel", "simple-cancel-before-any-1xx", "simple-cancel-crossed-by-the-200",
              "simple-cancel-crossed-by-a-486", "simple-prack", "simple-prack-then-cancel")
    variants = _variants(0)
    names = _write(tmp_path / "shapes.pcap", {name: variants[name] for name in shapes})
    capture = load_capture(str(tmp_path / "shapes.pcap"), media=False, messages=False, locate=True)
    taken = _taken(monkeypatch)
    rows = {names[row["id"]]: row for row in iter_call_rows(capture, call_dict, _numbered_dict)}
    assert sorted(names[cid] for cid in taken) == sorted(shapes)
    got = {name: (row["outcome"], row["status"], row["setup_time"], row["talk_time"], row["messages"])
           for name, row in rows.items()}
    assert got == {
        "simple-cancel": ("cancelled", 487, None, None, 7),
        "simple-cancel-before-any-1xx": ("cancelled", 487, None, None, 5),
        "simple-cancel-crossed-by-the-200": ("completed", 200, 0.905, 29.095, 9),
        "simple-cancel-crossed-by-a-486": ("cancelled", 486, None, None, 7),
        "simple-prack": ("completed", 200, 2.0, 28.0, 9),
        "simple-prack-then-cancel": ("cancelled", 487, None, None, 9),
    }
    assert rows["simple-cancel"]["outcome_text"] == "cancelled"


def test_challenged_calls_read_as_their_flows_say(tmp_path, monkeypatch):
    """RFC 3665 §3.2: a call challenged once is the retry's call (its outcome, its 180 and 200,
    timed from the first INVITE: setup 2.05 s), one INVITE leg whose transaction ended with the
    407 (20 ms), given to the links as without the lane; a second challenge is its outcome."""
    shapes = ("simple-challenged", "simple-challenged-401", "simple-challenged-then-486",
              "simple-challenged-then-cancel", "simple-challenged-then-prack", "simple-challenged-again")
    variants = _variants(0)
    names = _write(tmp_path / "challenged.pcap", {name: variants[name] for name in shapes})
    capture = load_capture(str(tmp_path / "challenged.pcap"), media=False, messages=False, locate=True)
    taken, given = _taken(monkeypatch), _given(monkeypatch)
    rows = {names[row["id"]]: row for row in iter_call_rows(capture, call_dict, _numbered_dict)}
    assert sorted(names[cid] for cid in taken) == sorted(shapes)
    got = {name: (row["outcome_text"], row["setup_time"], row["talk_time"], row["messages"], row["legs"])
           for name, row in rows.items()}
    assert got == {
        "simple-challenged": ("completed", 2.05, 28.0, 10, 1),
        "simple-challenged-401": ("completed", 2.05, 28.0, 10, 1),
        "simple-challenged-then-486": ("busy 486", None, None, 8, 1),
        "simple-challenged-then-cancel": ("cancelled", None, None, 10, 1),
        "simple-challenged-then-prack": ("completed", 2.05, 28.0, 12, 1),
        "simple-challenged-again": ("rejected 407", None, None, 7, 1),
    }
    assert [(names[leg[0]], (leg[5] - leg[4]) // 1_000_000, leg[7]) for leg in given] == [
        (name, 20, name.endswith(("486", "cancel", "again"))) for name in shapes]


def test_a_busy_hours_mix_goes_through_the_lane(tmp_path, monkeypatch):
    """``bench/make_sip_capture.py --mix``: answered, cancelled, rejected, 100rel calls and exact
    retransmissions, 3 in 10 of them challenged first (their outcomes the retry's), every one
    taken by the lane with the slow lane's rows."""
    path = tmp_path / "mix.pcap"
    subprocess.run([sys.executable, str(ROOT / "bench" / "make_sip_capture.py"),
                    str(path), "--calls", "200", "--concurrent", "20", "--mix"], check=True, capture_output=True)
    assert _assert_same_rows(path, monkeypatch) == (200, 200)
    capture = load_capture(str(path), media=False, messages=False, locate=True)
    outcomes = Counter(row["outcome_text"] for row in iter_call_rows(capture, call_dict, _numbered_dict))
    assert outcomes == {"completed": 140, "cancelled": 40, "busy 486": 10, "rejected 480": 6, "rejected 404": 4}
    given = _given(monkeypatch)
    list(iter_call_rows(capture, call_dict, _numbered_dict))
    # the challenged calls' legs end with the 407, 4 ms after the INVITE (``call_challenged``: 60 of 200)
    assert sum(leg[5] - leg[4] == 4_000_000 for leg in given) == 60 and len(given) == 200


def test_the_lane_tells_a_retransmission_from_a_copy_as_fold_duplicates_does():
    from ladder import _accel
    from ladder.calls.duplicates import DUPLICATE_WINDOW_NS

    assert _accel.DUPLICATE_WINDOW_NS == DUPLICATE_WINDOW_NS


def test_the_lane_is_off_when_asked(tmp_path, monkeypatch):
    _write(tmp_path / "one.pcap", {"simple": _simple(0)})
    capture = load_capture(str(tmp_path / "one.pcap"), media=False, messages=False, locate=True)
    taken = _taken(monkeypatch)
    monkeypatch.setenv("PCAPLADDER_NO_SIMPLE_CALLS", "1")
    off = list(iter_call_rows(capture, call_dict, _numbered_dict))
    assert taken == []
    monkeypatch.delenv("PCAPLADDER_NO_SIMPLE_CALLS")
    assert list(iter_call_rows(capture, call_dict, _numbered_dict)) == off
    assert taken == ["call-1@test"]
    assert off[0]["outcome"] == "completed" and off[0]["talk_time"] == 28.0 and off[0]["setup_time"] == 2.0


def test_a_capture_changed_after_loading_goes_to_the_slow_lane_and_is_an_error(tmp_path, monkeypatch):
    path = tmp_path / "changed.pcap"
    _write(path, {"simple": _simple(0)})
    capture = load_capture(str(path), media=False, messages=False, locate=True)
    data = bytearray(path.read_bytes())
    data[capture.message_store.where[3] + 9] ^= 0x01  # the 200's status: 210
    path.write_bytes(bytes(data))
    taken = _taken(monkeypatch)
    with pytest.raises(CaptureError, match="changed"):
        list(iter_call_rows(capture, call_dict, _numbered_dict))
    assert taken == []


def _mutated(k: int, rng) -> list[dict]:
    """A simple call (or a failed one) with a few random changes of the kinds the predicate
    weighs: a message dropped, repeated (a copy, a retransmission), moved in time, sent the other
    way, of another status, branch, CSeq, To tag or method."""
    shapes = ("simple", "simple-486", "simple-cancel", "simple-cancel-crossed-by-the-200", "simple-prack",
              "simple-prack-then-cancel", "simple-challenged", "simple-challenged-then-cancel",
              "simple-challenged-again")
    messages = _simple(k) if rng.random() < 0.4 else _variants(k)[rng.choice(shapes)]
    for _ in range(rng.randrange(0, 3)):
        at = rng.randrange(len(messages))
        m = dict(messages[at])
        change = rng.randrange(9)
        if change == 0 and len(messages) > 2:
            del messages[at]
            continue
        if change == 1:
            messages.insert(at + 1, dict(m, t=m["t"] + rng.choice((0, 1, 10, 11, 500))))
            continue
        if change == 2:
            m["t"] = messages[at - 1]["t"] if at else m["t"]
        elif change == 3:
            m["up"] = not m["up"]
        elif change == 4 and m["line"].startswith("SIP/2.0"):
            m["line"] = f"SIP/2.0 {rng.choice((180, 183, 200, 202, 401, 404, 407, 486, 487, 503))} Something"
        elif change == 5:
            m["branch"] = rng.choice((1, 2, 3, 4, 6, 7))
        elif change == 6:
            m["cseq"] = rng.choice(("1 INVITE", "2 BYE", "1 ACK", "3 BYE", "1 CANCEL", "2 PRACK", "2 INVITE",
                                    "2 ACK"))
        elif change == 7:
            m["tag"] = rng.choice((None, "t", "u", "p"))
        else:
            method = rng.choice(("PRACK", "INFO", "BYE", "ACK", "CANCEL", "INVITE"))
            m["line"] = f"{method} sip:bob{k}@192.0.2.9 SIP/2.0"
        messages[at] = m
    return sorted(messages, key=lambda m: m["t"])


def test_randomly_changed_calls_give_the_same_rows(tmp_path, monkeypatch):
    import random

    rng = random.Random(1303)
    calls = {f"random-{k}": _mutated(k + 1, rng) for k in range(200)}
    packets_path = tmp_path / "random.pcap"
    _write(packets_path, calls)
    found = _assert_same_rows(packets_path, monkeypatch)
    assert found is not None
    calls_found, taken = found
    assert calls_found == len(calls) and 20 < taken < len(calls)  # both lanes are taken


def test_check_finds_the_same_with_the_lane_in_its_pass_2(tmp_path, monkeypatch, capsys):
    """``ladder check`` (``iter_calls``) takes a simple call's leg from the lane in pass 2 and
    shows its messages to no ``look``: the same findings and damage note as without the lane,
    on the clause variants (a damaged 100 among them: the note counts it either way)."""
    from ladder.cli.dispatch import main

    path = tmp_path / "variants.pcap"
    _write(path, _variants(0))
    # Every damaged message counted (the note's threshold at zero): 3 with the lane or without.
    monkeypatch.setattr("ladder.capture.continuity.DAMAGED_SHARE", 0.0)
    outputs = []
    for off in (False, True):
        if off:
            monkeypatch.setenv("PCAPLADDER_NO_SIMPLE_CALLS", "1")
        taken = _taken(monkeypatch)
        main(["check", "--json", str(path)])
        outputs.append(capsys.readouterr().out)
        assert bool(taken) != off  # the lane took calls only when on
        monkeypatch.delenv("PCAPLADDER_NO_SIMPLE_CALLS", raising=False)
    assert outputs[0] == outputs[1]
    assert '"3 of ' in outputs[0]  # the 100 without a To, the untagged ones of unplain-to


def test_the_lanes_parties_are_the_windows_own(tmp_path, monkeypatch):
    """``simple_calls.window_parties`` (the links' window given C's parties) is ``_caller`` and
    ``_target`` of the kept request, on users with "+" and capitals, a Request-URI without a
    user (the target is To's), and one whose user differs from To's."""
    s = _simple(0)
    calls = {
        "plain": s,
        "number": [dict(m, frm="<sip:+4930Alice@EX.com>", to="Bob <sip:+1555BOB@Example.COM:5070;user=phone>")
                   for m in s],
        "no-user-in-request-uri": _with(s, 0, line="INVITE sip:example.com SIP/2.0"),
        "request-uri-user": _with(s, 0, line="INVITE sip:+CarolX@example.com;transport=udp SIP/2.0"),
    }
    # Request-URIs at the edges of what C reads itself (``plain_request_user``) and of
    # ``uri_user``'s regex (a 5-digit port from 10000, a ";" with a parameter name after it):
    # the window's parties are ``_target``'s either way.
    edges = ("sip:+@example.com", "sip:++Dan@example.com:0", "sip:dan@example.com:05060", "sip:dan@example.com:10000",
             "sip:dan@example.com:65535", "sip:dan@example.com;", "sip:dan@example.com;;x", "sip:dan@example.com;a=b=c",
             "sip:dan@example.com;lr;x=", "sips:DAN.x_y!~*'@EX-1.example.com:5061;transport=tls")
    for k, uri in enumerate(edges):
        calls[f"edge-{k}"] = _with(s, 0, line=f"INVITE {uri} SIP/2.0")
    _write(tmp_path / "parties.pcap", calls)
    seen: list[tuple[str, str]] = []
    take = simple_calls.SimpleLane.take

    def compared(self, g, cid, kept, numbers):
        found = take(self, g, cid, kept, numbers)
        if found is not None and found[3] is not None:
            assert found[3] == (_caller(found[0].request), _target(found[0].request))
            seen.append(found[3])
        return found

    monkeypatch.setattr(simple_calls.SimpleLane, "take", compared)
    capture = load_capture(str(tmp_path / "parties.pcap"), media=False, messages=False, locate=True)
    list(iter_call_rows(capture, call_dict, _numbered_dict))
    assert sorted(seen[:4]) == sorted([("alice1", "bob0"), ("4930alice", "bob0"), ("alice3", "bob3"),
                                       ("alice4", "carolx")])  # (To is bob{k}: the Request-URI's bob0 wins)
    assert [target for _, target in seen[4:]] == ["", "dan"] + ["dan"] * 7 + ["dan.x_y!~*'"]
    monkeypatch.undo()
    assert _assert_same_rows(tmp_path / "parties.pcap", monkeypatch) == (4 + len(edges), 4 + len(edges))


def test_a_simple_calls_leg_reaches_the_window_after_the_waiting_legs_of_its_time(tmp_path, monkeypatch):
    """Pass 2 gives a simple call's leg to the links' window directly, not through the heap of
    waiting legs: after those of its time (of earlier groups), as the heap's (time, group) order
    would. Call 1 (two INVITE hops: the slow lane) has its second hop at the very time call 2
    (simple) starts; the legs reach the window in the same order with the lane on and off."""
    s = _simple(0)
    relayed = s + [dict(s[0], t=100_000, same_ip=True, branch=9, cseq="3 INVITE")]  # (call 2 starts 100 s later)
    _write(tmp_path / "tie.pcap", {"relayed": relayed, "simple": _simple(1)})
    given = _given(monkeypatch)
    capture = load_capture(str(tmp_path / "tie.pcap"), media=False, messages=False, locate=True)
    list(iter_call_rows(capture, call_dict, _numbered_dict))
    assert [(leg[0], leg[4]) for leg in given] == [("call-1@test", 100_000_000_000),
                                                   ("call-1@test", 200_000_000_000),
                                                   ("call-2@test", 200_000_000_000)]
    monkeypatch.undo()
    assert _assert_same_rows(tmp_path / "tie.pcap", monkeypatch) == (2, 1)


def _facts_with_and_without_marks(path: Path) -> tuple[list, list, int]:
    """C's facts of every group of ``path`` read with the load's marks (``MessageStore.marks``)
    and with none (every message scanned again), and how many messages had marks."""
    from ladder.calls.bounded import _Groups

    capture = load_capture(str(path), media=False, messages=False, locate=True)
    store = capture.located_store()
    groups = _Groups(capture)
    lane = simple_calls.SimpleLane(capture, store, groups)
    size = len(store.marks) // max(1, len(store))  # (``_accel.SIP_MARKS_SIZE``; its byte 34: the flags)
    marked = sum(1 for i in range(len(store)) if store.marks[i * size + 34])
    facts = []
    for marks in (store.marks, bytes(len(store.marks))):
        columns = lane._columns[:-1] + (marks,)
        facts.append(simple_calls._c_simple_calls(-1 if lane._fd is None else lane._fd, store.spill_fd(), columns,
                                                  groups.members, groups.starts, 0, groups.calls(0, len(groups.keys))))
    lane.close()
    return facts[0], facts[1], marked


def test_the_loads_marks_give_the_facts_a_scan_gives(tmp_path):
    """A message C's load scanned is not scanned again by the lane: its marks (``marks_of``, the
    load's ``sip_scan`` as offsets) stand for it. The facts of every group are those of a scan of
    every message read back: on the clause variants, randomly changed calls, the --mix file (UDP
    and TCP: those over TCP have no marks) and the samples."""
    import random

    _write(tmp_path / "variants.pcap", _variants(0))
    rng = random.Random(2024)
    _write(tmp_path / "random.pcap", {f"random-{k}": _mutated(k + 1, rng) for k in range(200)})
    for extra in ((), ("--tcp",)):
        subprocess.run([sys.executable, str(ROOT / "bench" / "make_sip_capture.py"), str(tmp_path / f"mix{len(extra)}.pcap"),
                        "--calls", "200", "--concurrent", "20", "--mix", *extra], check=True, capture_output=True)
    paths = sorted(tmp_path.glob("*.pcap")) + sorted(p for p in SAMPLES.iterdir() if p.suffix in CAPTURE_SUFFIXES)
    taken = marked = 0
    for path in paths:
        try:
            with_marks, scanned, count = _facts_with_and_without_marks(path)
        except CaptureError:
            continue
        assert with_marks == scanned, path.name
        taken += sum(f is not None for f in with_marks)
        marked += count
    assert taken >= 500 and marked >= 2000, (taken, marked)  # (the lane took calls; most messages had marks)


def test_the_lanes_endpoints_are_the_stores(tmp_path):
    """The INVITE's ends C gives (the address as text and the port, when they are C's) make the
    ``Endpoint``s ``MessageStore.endpoint`` makes; over TCP (Python's ends) C gives none."""
    from decoders.records import Endpoint
    from ladder.calls.bounded import _Groups

    for extra, ends in (((), "C"), (("--tcp",), "Python")):
        path = tmp_path / f"mix{len(extra)}.pcap"
        subprocess.run([sys.executable, str(ROOT / "bench" / "make_sip_capture.py"), str(path), "--calls", "200",
                        "--concurrent", "20", "--mix", *extra], check=True, capture_output=True)
        facts, _, _ = _facts_with_and_without_marks(path)
        capture = load_capture(str(path), media=False, messages=False, locate=True)
        store, groups = capture.located_store(), _Groups(capture)
        checked = 0
        for g, found in enumerate(facts):
            if found is None:
                continue
            src_ip, src_port, dst_ip, dst_port = found[18:22]  # (after the 18 facts before them)
            invite = groups[g][0]
            if ends == "C":
                assert (Endpoint(src_ip, src_port, "udp"), Endpoint(dst_ip, dst_port, "udp")) == (
                    store.endpoint(store.src[invite]), store.endpoint(store.dst[invite]))
            else:
                assert src_ip is None and dst_ip is None
            checked += 1
        assert checked == 200


def test_the_lanes_times_are_the_index_columns(tmp_path):
    """The times C gives at the end of a simple call's facts are those ``take`` read of the
    index's ``ts_ns`` at the positions C gives (-1: none): the INVITE's, the last message's, the
    leg's final (the challenge's if any, else the final's) and the delays ``SimpleCall`` keeps,
    None where there is no such message (UDP with the load's marks and TCP without them; every
    shape of the --mix file: cancelled, rejected, challenged, 100rel, retransmitted)."""
    from ladder.calls.bounded import _Groups

    for extra in ((), ("--tcp",)):
        path = tmp_path / f"times{len(extra)}.pcap"
        subprocess.run([sys.executable, str(ROOT / "bench" / "make_sip_capture.py"), str(path), "--calls", "300",
                        "--concurrent", "30", "--mix", *extra], check=True, capture_output=True)
        facts, _, _ = _facts_with_and_without_marks(path)
        capture = load_capture(str(path), media=False, messages=False, locate=True)
        ts, groups = capture.sip_index.ts_ns, _Groups(capture)
        kinds = Counter()
        for g, found in enumerate(facts):
            if found is None:
                continue
            status, first, ringing, final, bye = found[1:6]
            challenge = found[17]
            numbers = groups[g]
            start, ended = ts[numbers[0]], ts[numbers[final]]
            assert found[24:] == (
                start, ts[numbers[-1]], ts[numbers[challenge]] if challenge >= 0 else ended,
                ts[numbers[ringing]] - start if ringing >= 0 else None, None if status >= 300 else ended - start,
                ts[numbers[bye]] - ended if bye >= 0 else None, ts[numbers[first]] - start)
            kinds[(status >= 300, ringing >= 0, bye >= 0, challenge >= 0)] += 1
        assert len(kinds) >= 5 and sum(kinds.values()) == 300
