"""``check_call`` on the RFC 3665 sample captures, as they are (conforming: the samples carry
the RFC's messages with its known text errors corrected, samples/README.md) and mutated one
defect at a time (frames removed, duplicated, reordered, rewritten, an RFC erratum put back),
with the exact codes and F-numbers each mutation must give."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from conftest import SAMPLES
from ladder.calls.grouping import build_calls
from ladder.capture.loader import load_capture
from ladder.check.call_check import annotate_ladder, check_call
from ladder.check.rules.media import CODES as MEDIA_CODE_LIST

MEDIA_CODES = {code.name for code in MEDIA_CODE_LIST}
from ladder.capture.reader import read_frames
from ladder.draw.layout import build_ladder
from ladder.export.pcap_writer import FrameFactory, PcapWriter
from ladder.check.references import load_references
from ladder.draw.text import render_text

REFS = load_references()
MS = 1_000_000
# The RFC's text errors the samples correct (samples/rfc3665_errata.py), as (section, F, bytes
# in the sample, bytes as RFC 3665 prints them), and what the checker must find with the
# printed bytes put back: the rules stay strict, real calls with these faults are caught.
RFC_ERRATA = [
    ("3.3", 8, b"Via: SIP/2.0/UDP ss1.atlanta.example.com:5060;branch=z9hG4bK230f2.1\r\n",
     b"Via: SIP/2.0/UDP client.atlanta.example.com:5060;branch=z9hG4bK74b21\r\n", {("missing-ack", (7,))}),
    ("3.7", 10, b"o=alice 2890844526 2890844527 ", b"o=alice 2890844526 2890844526 ",
     {("sdp-version-not-incremented", (1, 10))}),
    ("3.8", 10, b"<sip:bob@biloxi.example.com>;tag=c4e7b0a1\r\n", b"<sip:bob@biloxi.example.com>\r\n",
     {("missing-to-tag", (10,))}),
    ("3.8", 12, b"<sip:bob@biloxi.example.com>;tag=5d2f9e83\r\n", b"<sip:bob@biloxi.example.com>\r\n",
     {("missing-to-tag", (12,))}),
    ("3.8", 14, b"<sip:bob@biloxi.example.com>;tag=314159\r\n", b"<sip:bob@biloxi.example.com>\r\n",
     {("missing-to-tag", (14,))}),
    ("3.8", 18, b"Via: SIP/2.0/UDP ss1.atlanta.example.com:5060;branch=z9hG4bK2d4790.1\r\n",
     b"Via: SIP/2.0/UDP ss2.biloxi.example.com:5060;branch=z9hG4bK721e4.1\r\n", {("missing-ack", (17,))}),
]  # fmt: skip


def sample(section: str) -> Path:
    (path,) = SAMPLES.glob(f"rfc3665-{section}-*.pcap")
    return path


def check_file(path: Path, **kwargs):
    """Check the file as one scenario (RFC 3665 §3.4's two Call-IDs together)."""
    capture = load_capture(str(path))
    calls = build_calls(capture)
    result = check_call(calls if len(calls) > 1 else calls[0], capture, REFS, **kwargs)
    return result, capture, calls


def signalling(result) -> list:
    """The deviations about SIP; media ones are ``ladder.media.binding``'s facts, tested there and
    passed through here (``test_media_problems_pass_through``)."""
    return [d for d in result.deviations if d.code not in MEDIA_CODES]


def listed(result) -> set[tuple[str, tuple[int, ...], tuple[int, ...]]]:
    return {(d.code, d.f, d.reference_f) for d in signalling(result)}


@pytest.mark.parametrize("ref_id", [ref.id for ref in REFS if ref.id.startswith("rfc3665-")])
def test_each_sample_matches_its_own_reference_without_deviation(ref_id):
    section = ref_id.split("-", 1)[1]
    result, _, calls = check_file(sample(section))
    assert result.reference == ref_id
    assert result.score == pytest.approx(1.0)
    assert result.variant == ""
    # No deviation of any severity, signalling or media.
    assert [(d.code, d.f) for d in result.deviations] == []
    assert result.conforms and result.ignored == 0
    # No other reference fits as well.
    others = [score for rid, score in result.candidates if rid != ref_id]
    assert max(others) < result.score
    # Every role is played by a column of the ladder.
    assert "-" not in result.roles.values()


def test_expected_findings_are_set_aside_not_dropped():
    result, _, _ = check_file(sample("3.10"))
    assert {(d.code, d.f) for d in result.expected} == {
        ("retransmission", (6, 7, 8, 9, 10, 11)), ("no-final-response", (4,))
    }  # fmt: skip
    result, _, _ = check_file(sample("2.5"))
    assert {(d.code, d.f) for d in result.expected} == {("auth-failed", (4,))}
    # The same finding in a call that matches another reference is reported.
    forced, _, _ = check_file(sample("2.5"), reference="rfc3665-2.1")
    assert listed(forced) == {
        ("auth-failed", (4,), ()), ("unexpected-message", (4,), ()), ("missing-message", (), (4,)),
    }  # a 401 where the flow succeeds is another outcome, not another code  # fmt: skip


def test_roles_name_the_ladder_columns():
    result, _, _ = check_file(sample("3.2"))
    assert result.roles == {"Alice": "Alice", "Proxy1": "ss1.atlanta.example.com",
                            "Proxy2": "ss2.biloxi.example.com", "Bob": "Bob"}  # fmt: skip


def test_annotated_ladder_marks_the_arrows_and_lists_the_deviations(tmp_path):
    result, capture, calls = check_file(as_printed(tmp_path, "3.8"))
    ladder = annotate_ladder(build_ladder(calls[0], capture), result)
    marked = {a.f: a.marks for a in ladder.arrows if a.marks and a.f is not None}
    assert marked == {10: ("missing-to-tag",), 12: ("missing-to-tag",), 14: ("missing-to-tag",), 17: ("missing-ack",)}
    assert ladder.notes[-3].startswith('reference: rfc3665-3.8 "Unsuccessful No Answer" score 1.00')
    assert ladder.notes[-1].startswith("F17: missing-ack (error): ")
    text = render_text(ladder)
    assert re.search(r"487 Request Terminated F17 .*\n.*<- missing-ack", text)


def test_ignore_drops_codes_and_counts_them(tmp_path):
    result, _, _ = check_file(as_printed(tmp_path, "3.8"), ignore={"missing-to-tag"})
    assert {d.code for d in result.deviations} == {"missing-ack"} and result.ignored == 1
    assert not result.conforms


def test_result_json_shape(tmp_path):
    result, _, _ = check_file(as_printed(tmp_path, "3.8"))
    data = json.loads(json.dumps(result.to_json()))
    assert data["reference"] == "rfc3665-3.8" and data["score"] == 1.0
    assert data["id"] == "2xTb9vxSit55XU7p8@atlanta.example.com"
    item = next(d for d in data["deviations"] if d["code"] == "missing-ack")
    assert item == {**item, "severity": "error", "f": [17], "reference_f": [], "frames": [17]}
    assert "RFC 3261" in item["rule"]


# --- mutated captures ---------------------------------------------------------------------------


class Mutation:
    """The frames of a sample, editable by SIP F-number, written back as a pcap."""

    def __init__(self, path: Path):
        self.capture = load_capture(str(path))
        self.frames = [[f.ts_ns, f.data] for f in read_frames(str(path))]
        self.by_f = {i + 1: m for i, m in enumerate(self.capture.sip_messages)}
        self.factory = FrameFactory()

    def index(self, f: int) -> int:
        return self.by_f[f].frames[0].number - 1

    def remove(self, *fs: int) -> "Mutation":
        for i in sorted((self.index(f) for f in fs), reverse=True):
            self.frames[i] = None
        return self

    def duplicate(self, f: int, delay_ns: int) -> "Mutation":
        ts, data = self.frames[self.index(f)]
        self.frames.append([ts + delay_ns, data])
        return self

    def retime(self, f: int, ts_ns: int) -> "Mutation":
        self.frames[self.index(f)][0] = ts_ns
        return self

    def ts(self, f: int) -> int:
        return self.frames[self.index(f)][0]

    def rewrite(self, f: int, old: bytes, new: bytes) -> "Mutation":
        message = self.by_f[f]
        raw = message.raw.replace(old, new, 1)
        assert raw != message.raw, old
        head, sep, body = raw.partition(b"\r\n\r\n")
        head = re.sub(rb"Content-Length: *\d+", b"Content-Length: %d" % len(body), head)
        src, dst = message.src, message.dst
        frame = self.factory.udp(src.ip, src.port, dst.ip, dst.port, head + sep + body)
        self.frames[self.index(f)][1] = frame
        return self

    def write(self, path: Path) -> Path:
        records = sorted((r for r in self.frames if r is not None), key=lambda r: r[0])
        with open(path, "wb") as handle:
            writer = PcapWriter(handle, nanosecond=True)
            for ts, data in records:
                writer.write(ts, data)
        return path


def mutated(tmp_path: Path, mutation: Mutation):
    result, capture, _ = check_file(mutation.write(tmp_path / "mutated.pcap"))
    return result, capture


def as_printed(tmp_path: Path, section: str, only_f: int | None = None) -> Path:
    """The sample with RFC 3665's printed text put back where the sample corrects it (every
    correction of the section, or only F``only_f``'s)."""
    mutation = Mutation(sample(section))
    for where, f, corrected, printed, _ in RFC_ERRATA:
        if where == section and only_f in (None, f):
            mutation.rewrite(f, corrected, printed)
    return mutation.write(tmp_path / f"rfc3665-{section}-as-printed.pcap")


@pytest.mark.parametrize(
    ("section", "f", "findings"),
    [pytest.param(s, f, found, id=f"{s}-F{f}") for s, f, _, _, found in RFC_ERRATA],
)
def test_each_rfc_erratum_put_back_is_found(tmp_path, section, f, findings):
    result, _, _ = check_file(as_printed(tmp_path, section, only_f=f))
    assert result.reference == f"rfc3665-{section}" and result.score == pytest.approx(1.0)
    assert {(d.code, d.f) for d in result.deviations} == findings
    assert not result.conforms


@pytest.mark.parametrize("section", ["3.3", "3.7", "3.8"])
def test_the_rfc_text_as_printed_gives_exactly_its_errata(tmp_path, section):
    """All of a flow's corrections undone at once: what the rules find on the RFC's own text
    (tests/unit/check/test_rules.py), the 200s to CANCEL reported together."""
    result, _, _ = check_file(as_printed(tmp_path, section))
    assert {(d.code, d.f) for d in result.deviations} == {
        "3.3": {("missing-ack", (7,))},
        "3.7": {("sdp-version-not-incremented", (1, 10))},
        "3.8": {("missing-to-tag", (10, 12, 14)), ("missing-ack", (17,))},
    }[section]
    item = next(d for d in result.deviations if d.code != "missing-to-tag")
    assert item.severity == ("warning" if section == "3.7" else "error")
    assert ("§17.1.1.3" if item.code == "missing-ack" else "§8") in item.message


def test_a_removed_message_is_missing(tmp_path):
    result, _ = mutated(tmp_path, Mutation(sample("3.3")).remove(20))  # ACK Proxy 1 -> Proxy 2
    assert result.reference == "rfc3665-3.3"
    assert listed(result) == {("missing-message", (), (20,))}
    assert not result.conforms


def test_the_uacs_ack_dropped(tmp_path):
    result, _ = mutated(tmp_path, Mutation(sample("3.3")).remove(19))  # ACK Alice -> Proxy 1
    assert result.reference == "rfc3665-3.3"
    assert listed(result) == {("missing-ack", (18,), ()), ("missing-message", (), (19,))}
    assert next(d for d in result.deviations if d.code == "missing-ack").severity == "error"


def test_a_duplicated_2xx_reveals_a_lost_ack(tmp_path):
    mutation = Mutation(sample("3.3"))
    result, capture = mutated(tmp_path, mutation.duplicate(16, 500 * MS))  # 200 Bob -> Proxy 2
    assert result.reference == "rfc3665-3.3" and result.score == pytest.approx(1.0)
    assert listed(result) == {("retransmission", (22,), ())}
    item = next(d for d in result.deviations if d.code == "retransmission")
    assert item.severity == "warning"
    assert "ACK" in item.message


def test_a_duplicated_request_then_answered_is_information(tmp_path):
    mutation = Mutation(sample("3.5"))
    result, capture = mutated(tmp_path, mutation.duplicate(4, 500 * MS))  # INVITE Proxy 2 -> Bob
    assert result.reference == "rfc3665-3.5"
    (item,) = signalling(result)
    # Sent 500 ms later (T1), it lands between the 180 F8 and the 200 (now F10).
    assert (item.code, item.severity, item.f) == ("retransmission", "info", (9,))


def test_messages_reordered_against_causality_are_out_of_order(tmp_path):
    mutation = Mutation(sample("3.3"))
    t16, t17 = mutation.ts(16), mutation.ts(17)
    result, _ = mutated(tmp_path, mutation.retime(16, t17).retime(17, t16))  # 200s swapped
    assert result.reference == "rfc3665-3.3"
    (item,) = signalling(result)
    assert item.code == "out-of-order" and item.f in ((16,), (17,)) and item.reference_f in ((16,), (17,))


def test_messages_reordered_without_consequence_are_no_deviation(tmp_path):
    mutation = Mutation(sample("3.3"))
    t5, t6 = mutation.ts(5), mutation.ts(6)
    result, _ = mutated(tmp_path, mutation.retime(5, t6).retime(6, t5))  # 100 vs forwarded INVITE
    assert result.reference == "rfc3665-3.3" and result.score == pytest.approx(1.0)
    assert listed(result) == set()


def test_max_forwards_not_decremented(tmp_path):
    mutation = Mutation(sample("3.3")).rewrite(13, b"Max-Forwards: 69", b"Max-Forwards: 70")
    result, _ = mutated(tmp_path, mutation)
    assert listed(result) == {("max-forwards-not-decremented", (11, 13), ())}


def test_sdp_answer_with_an_extra_codec(tmp_path):
    mutation = Mutation(sample("3.3")).rewrite(18, b"RTP/AVP 0\r\n", b"RTP/AVP 0 8\r\na=rtpmap:8 PCMA/8000\r\n")
    result, _ = mutated(tmp_path, mutation)
    item = next(d for d in result.deviations if d.code == "sdp-answer-mismatch")
    assert item.severity == "info"  # RFC 3264 §6.1 lets an answer add formats
    assert listed(result) == {("sdp-answer-mismatch", (18,), ())}
    assert "PCMA/8000" in next(d for d in result.deviations if d.code == "sdp-answer-mismatch").message


def test_retransmissions_at_wrong_intervals(tmp_path):
    mutation = Mutation(sample("3.10"))
    start = mutation.ts(4)
    for k, f in enumerate(range(6, 12), start=1):  # every 500 ms instead of 0.5, 1, 2, 4 ... s
        mutation.retime(f, start + k * 500 * MS)
    result, _ = mutated(tmp_path, mutation)
    assert result.reference == "rfc3665-3.10"
    (item,) = signalling(result)
    assert (item.code, item.f) == ("timer-violation", (7, 8, 9, 10, 11))


def test_media_problems_pass_through_with_their_streams():
    from ladder.media.binding import call_media_problems

    result, capture, calls = check_file(sample("3.5"))
    media = [d for d in result.deviations if d.code in MEDIA_CODES]
    problems = call_media_problems(calls[0], capture)
    assert [(d.code, d.stream_keys, d.frames) for d in media] == [
        (p.code, (p.stream_key,), (p.frame,)) for p in problems if p.code in MEDIA_CODES
    ]  # fmt: skip
    ladder = annotate_ladder(build_ladder(calls[0], capture), result)
    for item in media:
        bar = next(a for a in ladder.arrows if item.stream_keys[0] in a.stream_keys)
        assert item.code in bar.marks


def test_a_sip_only_capture_says_nothing_about_media(tmp_path):
    mutation = Mutation(sample("3.1"))
    sip_frames = {m.frames[0].number - 1 for m in mutation.capture.sip_messages}
    mutation.frames = [r if i in sip_frames or r[1][23:24] != b"\x11" else None for i, r in enumerate(mutation.frames)]
    result, capture = mutated(tmp_path, mutation)
    assert capture.streams == [] and result.reference == "rfc3665-3.1"
    assert [d for d in result.deviations if d.code in MEDIA_CODES] == []


def test_sdp_answer_without_the_offered_codec(tmp_path):
    mutation = Mutation(sample("3.3")).rewrite(18, b"RTP/AVP 0\r\na=rtpmap:0 PCMU/8000", b"RTP/AVP 8\r\na=rtpmap:8 PCMA/8000")
    result, _ = mutated(tmp_path, mutation)
    item = next(d for d in result.deviations if d.code == "sdp-answer-mismatch")
    assert (item.severity, item.f) == ("error", (18,))


def test_docs_list_every_code_and_every_reference():
    from conftest import ROOT
    from ladder.check.codes import CODES

    text = (ROOT / "docs" / "CHECK.md").read_text(encoding="utf-8")
    table = {line.split("|")[1].strip().strip("`") for line in text.splitlines() if line.startswith("| `")}
    assert set(CODES) <= table
    assert {ref.id for ref in REFS} <= table
    for code in CODES.values():
        assert f"| `{code.name}` | {code.severity} |" in text, code.name
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for code in CODES.values():
        assert f"| `{code.name}` | {code.severity} |" in readme, code.name
    assert all(f"`{ref.id}`" in readme for ref in REFS), [r.id for r in REFS if f"`{r.id}`" not in readme]


def test_a_capture_that_stops_before_the_bye_is_not_a_faulty_call(tmp_path):
    """§3.1 cut after the ACK (the call still up): the BYE and its 200 are not in the capture,
    which cannot say they were missed; a message missing inside the flow still is a warning."""
    result, _ = mutated(tmp_path, Mutation(sample("3.1")).remove(5, 6))
    assert result.reference == "rfc3665-3.1"
    missing = [d for d in signalling(result) if d.code == "missing-message"]
    assert [(d.reference_f, d.severity) for d in missing] == [((5,), "info"), ((6,), "info")]
    assert "may have stopped before it" in missing[0].message
    assert result.conforms

    inside, _ = mutated(tmp_path, Mutation(sample("3.1")).remove(2))  # 180 Ringing: optional
    assert result.conforms and inside.conforms
    ack_lost, _ = mutated(tmp_path, Mutation(sample("3.1")).remove(4))  # the ACK, inside the flow
    assert ("missing-message", (), (4,)) in listed(ack_lost)
    assert next(d for d in ack_lost.deviations if d.code == "missing-message").severity == "warning"
    assert not ack_lost.conforms


def test_step_rows_are_the_fields_of_the_observed_steps():
    """The matching memo keys a call by ``step_rows`` and makes ``Observed`` steps only when it
    has not matched that shape: a row is its step's every field, by name, on every sample."""
    from dataclasses import fields

    from ladder.check.call_check import observed_steps, step_rows
    from ladder.check.matching import Observed

    assert all(f.compare for f in fields(Observed))  # equal rows are equal (and equally hashed) steps
    rows_seen = 0
    for path in sorted(SAMPLES.glob("*.pcap")):
        capture = load_capture(str(path))
        for call in build_calls(capture):
            ladder = build_ladder(call, capture)
            rows = step_rows(ladder)
            assert [tuple(getattr(s, f.name) for f in fields(Observed)) for s in observed_steps(ladder)] == rows
            assert all(isinstance(row[3], str) and row[3] == row[3].upper() for row in rows)
            rows_seen += len(rows)
    assert rows_seen > 300
