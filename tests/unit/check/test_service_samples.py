"""The sample captures of the references beyond RFC 3665 (samples/build_service_samples.py).

Each is rebuilt byte for byte from samples/service-messages.txt, conforms (no warning or
error), and matches its reference, composed of episodes where the call has them. Their text
ladders are pinned in tests/golden/ (``PCAPLADDER_REGEN=1`` rewrites them; read the diff).
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from conftest import ROOT, SAMPLES, shared_path
from ladder.calls.grouping import build_calls
from ladder.capture.loader import load_capture
from ladder.check.call_check import check_call
from ladder.draw.layout import build_ladder
from ladder.check.references import load_references
from ladder.draw.text import render_text

GOLDEN = ROOT / "tests" / "golden"
REFS = load_references()

# sample -> per call (Call-ID order of `ladder calls`): (reference, composition or None)
EXPECTED = {
    "rfc5359-2.1-call-hold": [("rfc5359-2.1", None)],
    # Alice-Bob: hold then resume, the shape of §2.1; Bob-Carol: a call through the proxy.
    "rfc5359-2.2-consultation-hold": [("rfc5359-2.1", None), ("rfc3665-3.1", None)],
    "rfc5359-2.4-transfer-unattended": [
        ("rfc3665-3.1", "rfc3665-3.1 + rfc3515-2.4 + BYE"),
        ("rfc3665-3.1", None),  # Bob-Carol: the RFC stops before their BYE
    ],
    "rfc5359-2.5-transfer-attended": [
        ("rfc3665-3.1", "rfc3665-3.1 + rfc5359-2.5 hold + rfc3515-2.4 + BYE"),
        ("rfc3665-3.1", "rfc3665-3.1 + rfc5359-2.5 hold + BYE"),
        ("rfc3665-3.1", None),  # Alice-Carol (INVITE with Replaces): the RFC stops before a BYE
    ],
    "rfc5359-2.7-call-forwarding-unconditional": [("rfc5359-2.7", None)],
    "rfc5359-2.8-call-forwarding-busy": [("rfc5359-2.8", None)],
    "rfc5359-2.9-call-forwarding-no-answer": [("rfc5359-2.9", None)],
    # Multi-dialog services (each dialog its own Call-ID): each call matches the flow its
    # dialog is; the service's own flow holds them all (test_each_service_sample_is_its_flow).
    "rfc5359-2.3-music-on-hold": [
        ("rfc3665-3.1", "rfc3665-3.1 + rfc5359-2.5 hold + BYE"),  # Alice-Bob: hold, then replaced
        ("rfc3515-2.4", None),  # Bob's REFER to the music server
        ("rfc3665-3.1", None),  # the music server's INVITE with Replaces, BYE from Alice
        ("rfc3665-3.1", None),  # Bob takes the call back (INVITE with Replaces): the RFC stops
    ],
    "rfc5359-2.10-conference-third-party-added": [
        ("rfc3665-3.1", "rfc3665-3.1 + rfc3261-14 re-INVITE"),  # the focus re-INVITE; no BYE
        ("rfc3665-3.1", None),  # Bob-Carol
    ],
    "rfc5359-2.11-conference-third-party-joins": [
        ("rfc3665-3.1", "rfc3665-3.1 + rfc3261-14 re-INVITE"),
        ("rfc3665-3.1", None),  # Carol-Bob
    ],
    "rfc5359-2.6-transfer-instant-messaging": [
        ("rfc3665-3.1", None),  # Alice-Bob, until Alice's BYE
        ("rfc3428-10", None),  # Bob's MESSAGE to Carol
        ("rfc3665-3.1", None),  # Carol calls Alice: the RFC stops before a BYE
    ],
    "rfc5359-2.12-find-me": [("rfc5359-2.12", None)],  # one Call-ID: the proxy forks in turn
    "rfc5359-2.13-incoming-call-screening": [("rfc5359-2.13", None)],  # 305, 407, 403, announcement
    "rfc5359-2.14-outgoing-call-screening": [("rfc3261-22.1", None)],  # the same shape, earlier in the library
    "rfc5359-2.17-automatic-redial": [
        ("rfc3665-3.9", None),  # Bob is busy (486)
        # Alice's subscription to Bob's dialog state: its third NOTIFY reports one more change,
        # and her SUBSCRIBE with Expires: 0 ends it with a last NOTIFY (RFC 6665 §4.1.2.3).
        ("rfc6665-4", "rfc6665-4 + rfc6665-4.2.2-notify + rfc6665-4"),
        ("rfc3665-3.1", None),  # the redial: the RFC stops before a BYE
    ],
    "rfc5359-2.18-click-to-dial": [
        ("rfc3515-2.4", None),  # a REFER with Refer-Sub: false (RFC 4488): no NOTIFY follows
        ("rfc3665-3.1", None),  # Bob's phone calls Carol
    ],
    "rfc5359-2.15-call-park": [
        ("rfc3665-3.1", None),  # Alice-Bob, until Alice's BYE
        ("rfc3515-2.4", None),  # Bob's REFER to the park server, outside any dialog
        ("rfc3665-3.1", None),  # the park server's INVITE with Replaces
        ("rfc6665-4", None),  # Carol's SUBSCRIBE to the park server's dialog package
        ("rfc3665-3.1", None),  # Carol retrieves the call: the RFC stops before a BYE
    ],
    "rfc5359-2.16-call-pickup": [
        ("rfc3665-3.8", None),  # Alice's INVITE to Bob, CANCELled once Bill answered
        ("rfc6665-4", None),  # Bill's SUBSCRIBE to Bob's dialog package
        ("rfc3665-3.1", None),  # Bill's INVITE with Replaces (early-only) to Alice
    ],
    "rfc3428-10-message": [("rfc3428-10", None)],
    "rfc3903-15-publish": [("rfc3903-15", None)] * 3,  # M5, M9, M11: three Call-IDs
    "rfc3261-11-options": [("rfc3261-11", None)],
    "rfc3261-10.2.4-registration-refresh": [("rfc3261-10.2.4", None)],
    "rfc3261-10.2.2-deregistration": [("rfc3261-10.2.2", None)],
    "rfc3262-3-prack": [("rfc3262-3", None)],
    "rfc3261-8.1.3.4-redirect": [("rfc3261-8.1.3.4", None)],
    "rfc6665-4-subscribe-notify": [("rfc6665-4", None)],
    "rfc3311-5-update-before-answer": [("rfc3311-5", None)],
    "rfc4028-10-session-refresh": [("rfc4028-10", None)],
}


def checked(stem: str):
    capture = load_capture(str(SAMPLES / f"{stem}.pcap"), media=False)
    calls = build_calls(capture)
    return [check_call(call, capture, REFS) for call in calls], calls, capture


def test_the_committed_samples_are_what_the_builder_makes(tmp_path):
    done = subprocess.run(
        [sys.executable, str(SAMPLES / "build_service_samples.py"), "--out", str(tmp_path)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    built = sorted(p.name for p in tmp_path.glob("*.pcap"))
    assert built == sorted(f"{stem}.pcap" for stem in EXPECTED)
    for name in built:
        assert (tmp_path / name).read_bytes() == (SAMPLES / name).read_bytes(), name
    # Every place the bytes differ from the printed text is said.
    assert "rfc5359-2.2-consultation-hold F19: Carol's 180 carries another Call-ID" in done.stdout


@pytest.mark.parametrize("stem", list(EXPECTED))
def test_each_sample_conforms_and_matches_its_reference(stem):
    results, _, _ = checked(stem)
    assert [(r.reference, " + ".join(r.composition) or None) for r in results] == EXPECTED[stem]
    for result in results:
        assert result.conforms, [(d.code, d.f, d.message) for d in result.deviations]
        # Only a step after the call's last message may be missing (the RFC stops there).
        assert all(d.severity == "info" for d in result.deviations)
    if not any(d.code == "missing-message" for d in results[0].deviations):
        assert results[0].score == pytest.approx(1.0)
    assert not any(r.partial for r in results)


# The RFC 5359 services made of several dialogs, each sample against its own flow with all its
# calls drawn as one ladder (as ``ladder check --reference ID`` does for RFC 3665 §3.4).
OWN_FLOW = {
    "rfc5359-2.3-music-on-hold": "rfc5359-2.3",
    "rfc5359-2.4-transfer-unattended": "rfc5359-2.4",
    "rfc5359-2.6-transfer-instant-messaging": "rfc5359-2.6",
    "rfc5359-2.12-find-me": "rfc5359-2.12",
    "rfc5359-2.13-incoming-call-screening": "rfc5359-2.13",
    "rfc5359-2.14-outgoing-call-screening": "rfc5359-2.14",
    "rfc5359-2.17-automatic-redial": "rfc5359-2.17",
    "rfc5359-2.18-click-to-dial": "rfc5359-2.18",
    "rfc5359-2.10-conference-third-party-added": "rfc5359-2.10",
    "rfc5359-2.11-conference-third-party-joins": "rfc5359-2.11",
    "rfc5359-2.15-call-park": "rfc5359-2.15",
    "rfc5359-2.16-call-pickup": "rfc5359-2.16",
}


@pytest.mark.parametrize("stem", list(OWN_FLOW))
def test_each_service_sample_is_its_flow(stem):
    _, calls, capture = checked(stem)
    result = check_call(calls, capture, REFS, reference=OWN_FLOW[stem])
    assert result.reference == OWN_FLOW[stem]
    assert result.score == pytest.approx(1.0)
    assert result.conforms and not result.deviations, [(d.code, d.f, d.message) for d in result.deviations]


def test_service_flows_follow_the_rfc_text():
    """Each step of the new RFC 5359 flows is the RFC's own: F-number, sender, receiver and
    message, as the section's message headings ("F7 INVITE Bill -> Alice") print them."""
    import re

    text = shared_path("reference/rfc5359.txt").read_text(encoding="utf-8")
    sections = {"rfc5359-2.3": "2.3.  Music on Hold", "rfc5359-2.10": "2.10.  3-Way Conference - Third Party Is Added",
                "rfc5359-2.11": "2.11.  3-Way Conference - Third Party Joins", "rfc5359-2.15": "2.15.  Call Park",
                "rfc5359-2.16": "2.16.  Call Pickup", "rfc5359-2.6": "2.6.  Transfer - Instant Messaging",
                "rfc5359-2.12": "2.12.  Find-Me", "rfc5359-2.14": "2.14.  Call Management (Outgoing Call Screening)",
                "rfc5359-2.18": "2.18.  Click to Dial", "rfc5359-2.17": "2.17.  Automatic Redial",
                "rfc5359-2.13": "2.13.  Call Management (Incoming Call Screening)"}  # fmt: skip
    names = {"Proxy1": "Proxy", "AnnouncementServer": "Announcer"}  # the only proxy of its flow
    for ref_id, title in sections.items():
        start = text.index("\n" + title + "\n")
        end = re.compile(r"\n(?:2\.\d+|3)\.  [A-Z0-9]").search(text, start + 1).start()
        printed = {}
        for f, left, dst in re.findall(r"^ {2,8}F(\d+) (.+) -> (.+)$", text[start:end], re.M):
            words = left.split()  # "NOTIFY Music Server", "180 Ringing Bob"
            src = "".join(words[-2:]) if words[-1] in ("Server", "1") else words[-1]
            src, dst = names.get(src, src), dst.strip().replace(" ", "")
            printed[int(f)] = (words[0].strip("("), src, names.get(dst, dst))  # "F3 (100 Trying)"
        if ref_id == "rfc5359-2.17":  # "F2 486 Busy Here": the figure gives the direction
            printed[2] = ("486", "Bob", "Alice")
        if ref_id == "rfc5359-2.13":  # headed "-> Proxy 1"; the figure and the messages say otherwise
            printed[10], printed[11] = ("INVITE", "Alice", "Announcer"), ("200", "Announcer", "Alice")
        if ref_id == "rfc5359-2.3":  # "F21 200 ACK Bob -> Alice": the figure and the text say ACK
            printed[21] = ("ACK",) + printed[21][1:]
        ref = next(r for r in REFS if r.id == ref_id)
        assert sorted(printed) == [s.f for s in ref.steps], ref_id
        for step in ref.steps:
            message, src, dst = printed[step.f]
            assert (step.src, step.dst) == (src, dst), (ref_id, step.f)
            assert step.label == message, (ref_id, step.f)


@pytest.mark.parametrize("stem", list(EXPECTED))
def test_text_rendering_matches_golden(stem):
    capture = load_capture(str(SAMPLES / f"{stem}.pcap"), media=False)
    calls = build_calls(capture)
    text = "\n".join(render_text(build_ladder(call, capture, media=False)) for call in calls)
    golden = GOLDEN / f"{stem}.txt"
    if os.environ.get("PCAPLADDER_REGEN") == "1":
        golden.write_bytes(text.encode("utf-8"))
    assert golden.exists(), f"{golden} is missing: run with PCAPLADDER_REGEN=1 and read the diff"
    assert text == golden.read_bytes().decode("utf-8")


def test_every_new_reference_of_the_brief_has_a_sample():
    # The RFC 5359 services, PRACK, UPDATE, session refresh, SUBSCRIBE/NOTIFY, MESSAGE,
    # PUBLISH, OPTIONS, registration refresh, de-registration and redirect.
    matched = {ref for calls in EXPECTED.values() for ref, _ in calls}
    wanted = {
        "rfc5359-2.1", "rfc5359-2.7", "rfc5359-2.8", "rfc5359-2.9", "rfc3262-3", "rfc3311-5",
        "rfc4028-10", "rfc6665-4", "rfc3428-10", "rfc3903-15", "rfc3261-11", "rfc3261-10.2.4", "rfc5359-2.12",
        "rfc5359-2.13",
        "rfc3261-10.2.2", "rfc3261-8.1.3.4",
    }  # fmt: skip
    assert wanted <= matched
    known = {ref.id for ref in REFS}
    assert matched <= known
