"""The reference library: the .flow format, its parser, and the 16 RFC 3665 flows checked
against the RFC's own message lists."""

from __future__ import annotations

import json
import re
from functools import lru_cache

import pytest

from ladder.errors import UsageError
from ladder.check.references import (
    FlowFileError,
    load_references,
    mirror_ending,
    parse_flows,
    reference_variants,
    skip_role,
    split_hop,
)
from conftest import shared_path

RFC3665_IDS = [
    "rfc3665-2.1", "rfc3665-2.2", "rfc3665-2.3", "rfc3665-2.4", "rfc3665-2.5",
    "rfc3665-3.1", "rfc3665-3.2", "rfc3665-3.3", "rfc3665-3.4", "rfc3665-3.5", "rfc3665-3.6",
    "rfc3665-3.7", "rfc3665-3.8", "rfc3665-3.9", "rfc3665-3.10", "rfc3665-3.11",
]  # fmt: skip

# How the RFC's message lists name the actors, and the role names the .flow files use.
RFC_ROLE = {
    "Alice": "Alice", "Bob": "Bob", "SIP Server": "Server", "Proxy 1": "Proxy1",
    "Proxy 2": "Proxy2", "Proxy 3": "Proxy3", "Proxy": "Proxy3", "SIP ALG": "ALG",
    "Redirect Server": "Redirect", "Redirect Proxy": "Redirect",
}  # fmt: skip
_LABEL_RE = re.compile(r"^   F(\d+) (.+?) (Alice|Bob|SIP Server|Proxy \d|Proxy|SIP ALG|Redirect \w+) -> (.+?)\s*$")
_SECTION_RE = re.compile(r"^([23]\.\d+)\.  \S")


@lru_cache(maxsize=1)
def rfc_message_list() -> dict[str, list[tuple[int, str, str, str]]]:
    """Each §2.x/§3.x flow's "Fn MESSAGE From -> To" lines, as (n, message, from, to)."""
    text = shared_path("reference/rfc3665.txt").read_text(encoding="utf-8")
    flows: dict[str, list[tuple[int, str, str, str]]] = {}
    section = None
    for line in text.splitlines():
        heading = _SECTION_RE.match(line)
        if heading:
            section = heading.group(1)
            continue
        found = _LABEL_RE.match(line)
        if found and section:
            number, message, src, dst = found.groups()
            flows.setdefault(section, []).append((int(number), message, src, dst))
    return flows


def test_library_holds_the_16_rfc3665_flows_in_section_order():
    ids = [ref.id for ref in load_references()]
    assert ids[:16] == RFC3665_IDS  # first: they win ties
    assert len(set(ids)) == len(ids)


@pytest.mark.parametrize("ref_id", RFC3665_IDS)
def test_flow_steps_are_the_rfcs_message_list(ref_id):
    """Every F-number, message and direction of the .flow equals the RFC's message details
    list for that section (RFC 3665 §2.5 F2 prints "Unauthorized" without its 401)."""
    section = ref_id.split("-", 1)[1]
    listed = rfc_message_list()[section]
    ref = next(r for r in load_references() if r.id == ref_id)
    assert [s.f for s in ref.steps] == [n for n, *_ in listed]
    for step, (number, message, src, dst) in zip(ref.steps, listed):
        first = message.split()[0]
        if first == "Unauthorized":
            first = "401"
        assert step.label == first, f"F{number}"
        assert (step.src, step.dst) == (RFC_ROLE[src], RFC_ROLE[dst]), f"F{number}"


def test_provisional_and_retransmission_steps_are_optional_others_required():
    for ref in load_references():
        if not ref.id.startswith("rfc3665-"):
            continue  # the other flows mark later NOTIFYs or UPDATEs ``optional`` explicitly
        for step in ref.steps:
            provisional = step.status is not None and step.status < 200
            assert step.optional == (provisional or step.retransmission), f"{ref.id} F{step.f}"


def test_responses_know_the_request_they_answer():
    ref = next(r for r in load_references() if r.id == "rfc3665-3.8")
    answered = {s.f: s.method for s in ref.steps if not s.is_request}
    # The 200s answer the CANCELs; the 487s answer the INVITE, not the CANCEL just before.
    assert answered[10] == answered[12] == answered[14] == "CANCEL"
    assert answered[15] == answered[17] == answered[19] == "INVITE"
    ref = next(r for r in load_references() if r.id == "rfc3665-3.7")
    assert {s.f: s.method for s in ref.steps if not s.is_request}[10] == "INVITE"  # the re-INVITE


def test_expectations_are_where_the_rfc_flows_time_out_or_fail():
    expects = {
        (ref.id, step.f): step.expect for ref in load_references() for step in ref.steps if step.expect
    }
    assert expects == {
        ("rfc3665-2.5", 4): ("auth-failed",),
        ("rfc3665-3.4", 1): ("no-final-response",),
        ("rfc3665-3.10", 4): ("no-final-response",),
        # RFC 3261 §22.1: credentials refused with 403, an outcome the RFC allows.
        ("rfc3261-22.1", 5): ("auth-failed",),
        ("rfc3261-22.1-register", 4): ("auth-failed",),
        # RFC 5359 §2.14: the screening proxy's 403 after credentials, the same outcome.
        ("rfc5359-2.13", 8): ("auth-failed",),
        ("rfc5359-2.14", 5): ("auth-failed",),
    }


def test_parse_a_user_flow_with_every_statement():
    text = """
    # a user's own flow
    flow my-call "Through one B2BUA"
    source local practice
    roles A B2BUA B
    F1 A -> B2BUA INVITE sdp
    F2 B2BUA <- B 183/INVITE
    F3 B2BUA -> A 100 required
    F4 B2BUA -> B INVITE
    F5 B2BUA -> B INVITE retransmission required
    F6 B -> B2BUA 4xx expect=no-final-response,timer-violation
    media A <-> B2BUA
    media B <- B2BUA
    hop A B2BUA Edge
    skip B2BUA
    expect retransmission
    end
    """
    (ref,) = parse_flows(text, "user.flow")
    assert ref.id == "my-call" and ref.title == "Through one B2BUA" and ref.kind == "call"
    assert ref.source == "local practice"
    assert ref.roles == ("A", "B2BUA", "B")
    s1, s2, s3, s4, s5, s6 = ref.steps
    assert (s1.src, s1.dst, s1.method, s1.conditions) == ("A", "B2BUA", "INVITE", ("sdp",))
    assert (s2.src, s2.dst, s2.status, s2.method, s2.optional) == ("B", "B2BUA", 183, "INVITE", True)
    assert s3.optional is False
    assert not s4.retransmission and s5.retransmission and not s5.optional
    assert (s6.status_class, s6.label, s6.expect) == (4, "4xx", ("no-final-response", "timer-violation"))
    assert s6.method == "INVITE"
    assert ref.media == (("A", "B2BUA", True), ("B2BUA", "B", False))
    assert ref.hops == (("A", "B2BUA", "Edge"),) and ref.skips == ("B2BUA",)
    assert ref.expect == ("retransmission",)


@pytest.mark.parametrize(
    ("text", "where", "what"),
    [
        ("roles A B\n", 1, "before the first 'flow'"),
        ('flow x "t"\nF1 A -> B INVITE\n', 2, "'roles' line must come before"),
        ('flow x "t"\nroles A B\nF1 A -> C INVITE\n', 3, "unknown role 'C'"),
        ('flow x "t"\nroles A B\nF1 A => B INVITE\n', 3, "expected: F<n>"),
        ('flow x "t"\nroles A B\nF1 A -> B invite\n', 3, "bad message"),
        ('flow x "t"\nroles A B\nF1 A -> B INVITE\nF1 B -> A 200\n', 4, "F1 appears twice"),
        ('flow x "t"\nroles A B\nF1 A -> B INVITE\nF2 A -> B 200\n', 4, "no pending request"),
        ('flow x "t"\nroles A B\nF1 A -> B INVITE loud\n', 3, "unknown option 'loud'"),
        ('flow x "t"\nroles A B\nF1 A -> B INVITE\nF2 A -> B BYE retransmission\n', 4, "must repeat"),
        ('flow x "t"\nroles A B\nF1 A -> B INVITE expect=Bad_Code\n', 3, "bad deviation code"),
        ('flow x "t"\nroles A B\nF1 B -> A 200/INVITE\n', 3, "must start with a request"),
        ('flow x "t"\nroles A A\n', 2, "repeated role"),
        ('flow x "t"\nroles A B\nwhatever\n', 3, "unknown statement"),
    ],
)
def test_flow_file_errors_name_file_and_line(text, where, what):
    with pytest.raises(FlowFileError) as caught:
        parse_flows(text, "bad.flow")
    assert str(caught.value).startswith(f"bad.flow:{where}: ")
    assert what in str(caught.value)
    assert isinstance(caught.value, UsageError)  # the CLI turns it into exit status 2


def test_a_flow_without_steps_or_defined_twice_is_refused():
    with pytest.raises(FlowFileError, match="has no steps"):
        parse_flows('flow x "t"\nroles A B\n')
    with pytest.raises(FlowFileError, match="defined twice"):
        parse_flows('flow x "t"\nroles A B\nF1 A -> B INVITE\nflow x "u"\nroles A B\nF1 A -> B BYE\n')


def test_extra_file_comes_first_and_replaces_a_builtin_flow(tmp_path):
    extra = tmp_path / "mine.flow"
    extra.write_text(
        'flow rfc3665-3.1 "Mine"\nroles A B\nF1 A -> B INVITE\nF2 B -> A 200\nF3 A -> B ACK\n'
        'flow mine-2 "Other"\nroles A B\nF1 A -> B OPTIONS\nF2 B -> A 200\n',
        encoding="utf-8",
    )
    refs = load_references(extra)
    assert [r.id for r in refs[:2]] == ["rfc3665-3.1", "mine-2"]
    assert refs[0].title == "Mine" and refs[1].kind == "options"
    assert [r.id for r in refs].count("rfc3665-3.1") == 1 and len(refs) == len(load_references()) + 1
    with pytest.raises(FlowFileError, match="cannot read reference file"):
        load_references(tmp_path / "missing.flow")


def test_hop_inserts_a_proxy_with_and_without_record_route():
    ref = next(r for r in load_references() if r.id == "rfc3665-3.1")
    rr = split_hop(ref, "Alice", "Bob", "Proxy", record_route=True)
    assert rr.roles == ("Alice", "Proxy", "Bob")
    path = [(s.f, s.src, s.dst, s.label) for s in rr.steps]
    assert path[:3] == [(1, "Alice", "Proxy", "INVITE"), (1, "Proxy", "Alice", "100"), (1, "Proxy", "Bob", "INVITE")]
    assert (4, "Alice", "Proxy", "ACK") in path and (5, "Bob", "Proxy", "BYE") in path
    plain = split_hop(ref, "Alice", "Bob", "Proxy", record_route=False)
    # Without Record-Route the ACK and the BYE go end to end (RFC 3261 §16.6 step 4).
    assert [(s.f, s.src, s.dst) for s in plain.steps if s.f >= 4] == [
        (4, "Alice", "Bob"), (5, "Bob", "Alice"), (6, "Alice", "Bob")
    ]  # fmt: skip
    # As written, two hops, and the three of them ended by Alice (``either F5-F6``).
    assert len(reference_variants(ref)) == 6


def test_either_lets_the_other_party_end_the_call():
    ref = next(r for r in load_references() if r.id == "rfc3665-3.2")
    assert ref.either == (18, 23)
    turned = mirror_ending(ref)
    assert [(s.f, s.src, s.dst, s.label) for s in turned.steps[17:]] == [
        (20, "Alice", "Proxy1", "BYE"), (19, "Proxy1", "Proxy2", "BYE"), (18, "Proxy2", "Bob", "BYE"),
        (23, "Bob", "Proxy2", "200"), (22, "Proxy2", "Proxy1", "200"), (21, "Proxy1", "Alice", "200"),
    ]  # fmt: skip
    assert turned.steps[:17] == ref.steps[:17] and turned.variant == "the other party ends the call"
    with pytest.raises(FlowFileError, match="either F3-F9"):
        parse_flows('flow x "t"\nroles A B\nF1 A -> B INVITE\nF2 B -> A 200\neither F3-F9\n')


def test_skip_merges_a_proxy_into_its_upstream_neighbour():
    ref = next(r for r in load_references() if r.id == "rfc3665-3.9")
    one = skip_role(ref, "Proxy1")
    assert one.roles == ("Alice", "Proxy2", "Bob")
    assert [(s.f, s.src, s.dst, s.label) for s in one.steps] == [
        (2, "Alice", "Proxy2", "INVITE"), (4, "Proxy2", "Bob", "INVITE"), (5, "Proxy2", "Alice", "100"),
        (6, "Bob", "Proxy2", "486"), (7, "Proxy2", "Bob", "ACK"), (8, "Proxy2", "Alice", "486"),
        (9, "Alice", "Proxy2", "ACK"),
    ]  # fmt: skip
    assert one.variant == "without Proxy1" and one.cost == 1


def test_flows_agree_with_the_diagrams_behind_the_samples():
    """samples/rfc3665-flows.json holds each RFC figure's arrows as the samples were built from
    them: the same F-numbers, labels, directions and media as the .flow files, column for role."""
    from conftest import SAMPLES

    figures = json.loads((SAMPLES / "rfc3665-flows.json").read_text(encoding="utf-8"))
    by_id = {ref.id: ref for ref in load_references()}
    assert sorted(f"rfc3665-{figure['section']}" for figure in figures) == sorted(RFC3665_IDS)
    for figure in figures:
        ref = by_id[f"rfc3665-{figure['section']}"]
        columns = [RFC_ROLE.get(p["name"], p["name"]) for p in figure["participants"]]
        assert columns == list(ref.roles), ref.id
        steps = {s.f: s for s in ref.steps}
        signalling = [a for a in figure["arrows"] if not a.get("media")]
        media = {frozenset((columns[a["from"]], columns[a["to"]])) for a in figure["arrows"] if a.get("media")}
        assert media == {frozenset((a, b)) for a, b, _ in ref.media}, ref.id
        assert sorted(steps) == sorted(a["f"] for a in signalling), ref.id
        for arrow in signalling:
            step = steps[arrow["f"]]
            assert arrow["label"].split()[0] == step.label, (ref.id, arrow)
            assert (columns[arrow["from"]], columns[arrow["to"]]) == (step.src, step.dst), (ref.id, arrow)
