"""``quick_init`` makes the same objects as the dataclass's own ``__init__``: every record it is
given to, built both ways from the fields of real ones (the samples' messages, ladders, steps
and check results), holds the same value in every slot, and so do its defaults; classes it
cannot treat the same are refused."""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import InitVar, dataclass, field

import pytest

from conftest import SAMPLES
from decoders.errors import DecodeError
from decoders.quick_init import quick_init
from decoders.records import Endpoint, FrameRef
from decoders.sdp import SdpMedia, SdpOrigin, SdpSession
from decoders.sip import RequestLine, SipMessage
from decoders.sipuri import NameAddr, SipUri, Via
from ladder.calls.grouping import build_calls
from ladder.calls.legs import Leg, Link
from ladder.calls.outcome import Outcome
from ladder.calls.timings import CallTimings, call_timings
from ladder.capture.loader import load_capture
from ladder.check.call_check import CheckResult, _View, check_call, observed_steps
from ladder.check.matching import Observed
from ladder.check.references import load_references
from ladder.draw.diagram import Arrow, Ladder
from ladder.draw.layout import SipPlacement, build_ladder, sip_placement

QUICK = (SipMessage, RequestLine, FrameRef, Endpoint, SipUri, Via, NameAddr, SdpMedia, SdpSession, SdpOrigin,
         Arrow, Ladder, Observed, CheckResult, Leg, Link, Outcome, CallTimings, SipPlacement, _View)
SAMPLE_FILES = sorted(SAMPLES.glob("*.pcap"))


def _slots(obj) -> dict:
    return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)} | {
        name: getattr(obj, name) for name in type(obj).__slots__ if hasattr(obj, name)}


def _both_ways(cls, kwargs: dict):
    quick = cls(**kwargs)
    slow = object.__new__(cls)
    cls.__init__.dataclass_init(slow, **kwargs)
    return quick, slow


def _same(obj) -> None:
    cls = type(obj)
    kwargs = {f.name: getattr(obj, f.name) for f in dataclasses.fields(cls) if f.init}
    quick, slow = _both_ways(cls, kwargs)
    assert _slots(quick) == _slots(slow) == _slots(obj)


@functools.cache
def _records() -> list:
    return list(_made())


def _made():
    """Every quickly made record of the samples: messages and what they hold, calls' legs, links,
    outcomes and timings, ladders, arrows, steps, check results."""
    refs = load_references()
    for path in SAMPLE_FILES:
        capture = load_capture(str(path))
        for message in capture.sip_messages:
            yield message
            yield message.start
            yield from message.frames
            yield from (e for e in (message.src, message.dst) if e is not None)
            for addr in (message.from_addr, message.to_addr, *message.contacts):
                if addr is not None:
                    yield addr
                    try:
                        yield addr.parsed_uri()
                    except DecodeError:
                        pass  # a tel: or other URI: no SipUri
            yield from message.vias
            if message.sdp is not None:
                yield message.sdp
                yield from message.sdp.media
                if message.sdp.origin is not None:
                    yield message.sdp.origin
        for call in build_calls(capture):
            yield from call.legs
            yield from call.links
            yield call.outcome
            yield call_timings(call)
            ladder = build_ladder(call, capture)
            yield ladder
            yield from ladder.arrows
            yield from observed_steps(ladder)
            yield check_call(call, capture, refs, ladder=ladder)
            placed = sip_placement(call, capture)
            yield placed
            yield _View.of_placement(placed)
            yield _View.of_ladder(ladder)


def test_the_classes_made_quickly_are_the_ones_measured():
    for cls in QUICK:
        assert cls.__init__.dataclass_init is not cls.__init__


def test_real_records_are_the_same_both_ways():
    seen: set[type] = set()
    count = 0
    for record in _records():
        if type(record) not in QUICK:
            continue  # a StatusLine: its class keeps the dataclass's __init__
        _same(record)
        seen.add(type(record))
        count += 1
    assert count > 5000
    assert seen == set(QUICK)  # each class met on real bytes


@pytest.mark.parametrize("cls", QUICK, ids=lambda c: c.__name__)
def test_defaults_are_the_same_both_ways(cls):
    example = next(r for r in _records() if type(r) is cls)
    required = {f.name: getattr(example, f.name) for f in dataclasses.fields(cls)
                if f.init and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING}
    quick, slow = _both_ways(cls, required)
    assert _slots(quick) == _slots(slow)
    positional = list(required.values())
    assert _slots(cls(*positional)) == _slots(quick)


@quick_init
@dataclass(frozen=True, slots=True)
class _Shapes:
    a: int
    b: int = 3
    c: list = field(default_factory=list)
    d: int = field(init=False, default=7)
    e: int = field(init=False)
    f: dict = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "e", self.a + len(self.c))


def test_every_kind_of_field_is_set_as_the_dataclass_sets_it():
    for kwargs in ({"a": 1}, {"a": 1, "b": 5}, {"a": 2, "c": [1, 2]}, {"a": 0, "b": 0, "c": []}):
        quick, slow = _both_ways(_Shapes, kwargs)
        assert _slots(quick) == _slots(slow)
    one, two = _Shapes(1), _Shapes(1)
    assert one.c is not two.c and one.f is not two.f  # a factory per object, as the dataclass
    assert _Shapes(1, 2, [3]).e == 2
    with pytest.raises(TypeError):
        _Shapes()  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        _Shapes(1, d=3)  # type: ignore[call-arg]
    with pytest.raises(dataclasses.FrozenInstanceError):
        _Shapes(1).a = 2  # type: ignore[misc]


def test_what_it_cannot_make_the_same_is_refused():
    @dataclass(frozen=True)
    class NoSlots:
        a: int

    @dataclass(frozen=True, slots=True)
    class WithInitVar:
        a: int
        scale: InitVar[int] = 1

    @dataclass(frozen=True, slots=True, kw_only=True)
    class KeywordOnly:
        a: int

    for cls in (NoSlots, WithInitVar, KeywordOnly):
        with pytest.raises(TypeError):
            quick_init(cls)
