"""Precision as a maintained fact: every warning or error ``ladder check`` reports on the public
corpus (../shared/captures) is judged against the RFC text in tests/check_audit.tsv, one finding
per line with its own one-line reason (docs/CHECK.md, "Precision on real traffic").

Every code is held to it, the rules' and the reference matcher's alike (``REFERENCE_CODES``):
a finding judged false must not come back, one judged true must not be lost, a new one must be
judged before it is accepted, and at least ``TARGET`` of all the findings must be judged true. The
quick run holds the captures of ``QUICK_CORPUS`` to it, the long run (``slow``) the whole corpus."""

from __future__ import annotations

import csv
import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import QUICK_CORPUS, ROOT, shared_path
from ladder.calls.grouping import build_calls
from ladder.capture.loader import load_capture
from ladder.check.call_check import capture_settings, check_call
from ladder.check.deviations import at_least
from ladder.check.references import load_references

AUDIT = ROOT / "tests" / "check_audit.tsv"
REFERENCE_CODES = frozenset({"unexpected-message", "missing-message", "different-response", "out-of-order",
                             "wrong-direction"})
# Findings judged false that are known and accepted while the matcher cannot tell them apart:
# each is named here with the reason in the audit, so that no other false finding slips in.
ALLOWED_FALSE = frozenset({
    ("captures/wireshark-wiki/DTMFsipinfo.pcap", "1", "out-of-order", "1", ""),
})
TARGET = 0.95  # share of all warnings and errors judged true, the matcher's included


def audit_rows() -> list[dict]:
    with open(AUDIT, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def key(capture: str, call: int | str, code: str, f, ref_f="") -> tuple:
    """A finding's identity: a missing message has no captured F, so the reference's F names it."""
    def text(numbers) -> str:
        return numbers if isinstance(numbers, str) else ",".join(map(str, numbers))
    return (capture, str(call), code, text(f), text(ref_f) if code == "missing-message" else "")


def row_key(row: dict) -> tuple:
    return key(row["capture"], row["call"], row["code"], row["f"], row["ref_f"])


@dataclass(frozen=True)
class Reported:
    """(capture, call, code, F-numbers) -> severity of every warning or error ``ladder check``
    reports on ``captures``: the whole corpus in the long run, ``QUICK_CORPUS`` in the quick one."""

    found: dict[tuple, str]
    captures: frozenset[str]

    def __contains__(self, item: tuple) -> bool:
        return item in self.found

    def __iter__(self):
        return iter(self.found)

    def rows(self) -> list[dict]:
        """The audit's rows about the captures checked."""
        return [r for r in audit_rows() if r["capture"] in self.captures]


# The checks of the corpus, made once: the tests reading them share one xdist worker (loadgroup).
pytestmark = pytest.mark.xdist_group("check-audit")


@pytest.fixture(scope="module", params=[False, pytest.param(True, marks=pytest.mark.slow)], ids=["quick", "whole"])
def reported(request) -> Reported:
    shared = shared_path()
    manifest = json.loads((shared / "captures" / "manifest.json").read_text(encoding="utf-8"))["files"]
    files = [entry["file"] for entry in manifest]
    if not request.param:
        files = [name for name in files if name in QUICK_CORPUS]
        assert len(files) == len(QUICK_CORPUS), "every quick capture is in the manifest"
    references = load_references()
    found: dict[tuple, str] = {}
    for name in files:
        capture = load_capture(str(shared / name))
        settings = capture_settings(capture)
        for call in build_calls(capture):
            result = check_call(call, capture, references, settings=settings)
            for item in result.deviations:
                if at_least(item.severity, "warning"):
                    found[key(name, call.index, item.code, item.f, item.reference_f)] = item.severity
    return Reported(found, frozenset(files))


def test_the_audit_is_well_formed():
    rows = audit_rows()
    assert rows and all(r["verdict"] in ("true", "false", "debatable") for r in rows)
    assert all(r["reason"].strip() for r in rows), "every verdict has its one-line reason"
    assert len({row_key(r) for r in rows}) == len(rows)


def test_every_finding_is_judged_and_none_judged_false_comes_back(reported):
    judged = {row_key(r): r for r in audit_rows()}
    unjudged = sorted(k for k in reported if k not in judged)
    false = sorted(k for k in reported if k in judged and judged[k]["verdict"] == "false")
    allowed = sorted(k for k in false if k in ALLOWED_FALSE)
    assert not unjudged, f"judge these findings in {AUDIT.name}: {unjudged}"
    assert false == allowed, f"findings judged false are reported: {sorted(set(false) - set(allowed))}"


def test_no_finding_judged_true_is_lost(reported):
    lost = sorted(row_key(r) for r in reported.rows() if r["verdict"] == "true" and row_key(r) not in reported)
    assert not lost, f"findings judged true are no longer reported: {lost}"


def test_the_matchers_findings_are_judged_one_by_one(reported):
    """The matcher's findings are in the audit like the rules', each with a reason of its own."""
    rows = [r for r in reported.rows() if r["code"] in REFERENCE_CODES]
    assert rows and all(row_key(r) in reported for r in rows)
    assert any(k[2] in REFERENCE_CODES for k in reported)


def test_precision_meets_the_target(reported):
    judged = {row_key(r): r["verdict"] for r in audit_rows()}
    verdicts = Counter(judged[k] for k in reported)
    total = sum(verdicts.values())
    assert total and verdicts["true"] / total >= TARGET, verdicts
    matcher = Counter(judged[k] for k in reported if k[2] in REFERENCE_CODES)
    assert matcher["true"] / sum(matcher.values()) >= TARGET - 0.05, matcher
