"""``legs.LinkWindow``: the links across Call-IDs made while the legs stream by, holding only
those of the last relay or retry window, are the links the rules give when every pair of legs is
compared (nothing forgotten): on real INVITEs from the samples, at times placed on the windows'
edges (exactly RELAY_WINDOW_NS / RETRY_WINDOW_NS apart, and one nanosecond more)."""

from __future__ import annotations

import random
import re

import pytest

from conftest import SAMPLES
from decoders.records import Endpoint
from ladder.calls.legs import (RELAY_WINDOW_NS, RETRY_WINDOW_NS, Leg, Link, LinkWindow, _ip, _multihomed_link,
                               _party_key, _same_node_link, _target, invite_parties, retry_links, timing_links)
from ladder.capture.loader import load_capture

T0 = 1_700_000_000_000_000_000
ADDRESSES = ("192.0.2.101", "192.0.2.111", "192.0.2.222", "192.0.2.201")
OFFSETS = (0, 1, 20_000_000, RELAY_WINDOW_NS - 1, RELAY_WINDOW_NS, RELAY_WINDOW_NS + 1,
           RETRY_WINDOW_NS - 1, RETRY_WINDOW_NS, RETRY_WINDOW_NS + 1, 3 * RETRY_WINDOW_NS)


def _invites() -> list:
    """The initial INVITEs of the call samples, parsed: their From, To, URIs, tags and SDP are
    what the rules compare."""
    found = []
    for name in ("rfc3665-3.1-successful-session.pcap", "rfc3665-3.2-session-through-two-proxies.pcap",
                 "rfc3665-3.4-successful-session-proxy-failure.pcap", "rfc3665-3.8-unsuccessful-no-answer.pcap",
                 "rfc5359-2.12-find-me.pcap", "rfc5359-2.7-call-forwarding-unconditional.pcap"):
        for message in load_capture(str(SAMPLES / name), media=False).sip_messages:
            if message.is_request and message.method == "INVITE" and not message.to_tag:
                found.append(message)
    return found


class _Kinds(dict):
    def get(self, call_id, default=None, /):
        return super().get(call_id, default)


def _legs(seed: int, invites: list, count: int = 300):
    """Legs of real INVITEs between a few addresses, each placed on an edge of a window from an
    earlier one; some Call-IDs with several hops, some not calls, some failed."""
    rng = random.Random(seed)
    times = [T0]
    legs = []
    for n in range(count):
        ts = rng.choice(times[-20:]) + rng.choice(OFFSETS)
        times.append(ts)
        call_id = f"c{rng.randrange(count // 3)}-{seed}" if rng.random() < 0.5 else f"solo{n}"
        src = Endpoint(rng.choice(ADDRESSES), rng.choice((5060, 5070)), "udp") if rng.random() > 0.05 else None
        dst = Endpoint(rng.choice(ADDRESSES), 5060, "udp")
        final = rng.choice((None, ts, ts + 1, ts + RELAY_WINDOW_NS, ts + 10 * RELAY_WINDOW_NS))
        legs.append(Leg(call_id, "INVITE", src, dst, ts, rng.choice(invites), final))
    legs.sort(key=lambda leg: leg.ts_ns)
    kinds = _Kinds({leg.call_id: "call" if rng.random() > 0.1 else "registration" for leg in legs})
    failed = {leg.call_id for leg in legs if rng.random() < 0.7}
    return legs, kinds, failed


def _every_pair(legs: list[Leg], kinds, failed: set[str]) -> tuple[list[Link], list[Link]]:
    """The relay and retry rules over the whole list: each INVITE against every earlier one
    within its window, every first hop remembered for ever."""
    invites = [leg for leg in legs if leg.src and leg.dst and kinds.get(leg.call_id) == "call"]
    parties = invite_parties(invites)
    first: dict[str, Leg] = {}
    for leg in invites:
        first.setdefault(leg.call_id, leg)
    used: set[int] = set()
    relays = []
    for out in invites:
        if first[out.call_id] is not out:
            continue
        near = [a for a in invites if out.ts_ns - RELAY_WINDOW_NS <= a.ts_ns <= out.ts_ns]
        link = _same_node_link(out, [a for a in near if _ip(a.dst) == _ip(out.src)], used, parties)
        if link is None:
            key = _party_key(parties[id(out)][0])
            link = _multihomed_link(out, [a for a in near if _party_key(parties[id(a)][0]) == key], used, parties)
        if link is not None:
            relays.append(link)
    retries = []
    hops: dict[tuple, Leg] = {}
    for leg in legs:
        if leg.src is None or kinds.get(leg.call_id) != "call" or len(leg.request.vias) != 1 \
                or not leg.request.from_tag:
            continue
        key = (leg.src.ip, leg.request.from_tag, leg.request.from_uri, leg.request.to_uri)
        earlier = hops.get(key)
        if earlier is None or earlier.call_id == leg.call_id:
            hops.setdefault(key, leg)
            continue
        if earlier.call_id in failed and leg.ts_ns - earlier.ts_ns <= RETRY_WINDOW_NS:
            seconds = (leg.ts_ns - earlier.ts_ns) / 1e9
            retries.append(Link(earlier.call_id, leg.call_id,
                                f"same From tag {leg.request.from_tag}: {leg.src.ip} retried {seconds:.1f} s later"))
        hops[key] = leg
    return relays, retries


@pytest.fixture(scope="module")
def invites():
    return _invites()


@pytest.mark.parametrize("seed", range(8))
def test_the_window_links_what_comparing_every_pair_links(seed, invites):
    legs, kinds, failed = _legs(seed, invites)
    relays, retries = _every_pair(legs, kinds, failed)
    assert timing_links(legs, kinds) == relays
    assert retry_links(legs, kinds, failed) == retries


def test_the_edges_are_crossed_and_the_window_forgets(invites):
    """Across the seeds, links at exactly each window's width are made (and some are refused
    one nanosecond later); legs given one at a time leave the window's memory bounded."""
    widths = set()
    for seed in range(8):
        legs, kinds, failed = _legs(seed, invites)
        relays, retries = _every_pair(legs, kinds, failed)
        widths.update(re.search(r"(\d+) ms after", link.reason).group(1) for link in relays)
        widths.update(link.reason.rsplit(" retried ", 1)[1] for link in retries)
        window = LinkWindow(kinds)
        last = {leg.call_id: leg.ts_ns for leg in legs}
        for leg in legs:
            window.add(leg, last[leg.call_id], leg.call_id in failed)
        window.finish()
        assert (window.timing, window.retry) == (relays, retries)
        assert len(window._window) < len(legs) // 2  # only the INVITEs of the last two seconds
    assert {"2000", "64.0 s later"} <= widths  # links made at each window's edge


def test_legs_out_of_time_order_are_refused(invites):
    window = LinkWindow(_Kinds())
    request = invites[0]
    window.add(Leg("a", "INVITE", None, None, T0 + 5, request), T0 + 5)
    window.add(Leg("b", "INVITE", None, None, T0 + 6, request), T0 + 6)
    with pytest.raises(ValueError, match="time order"):
        window.add(Leg("c", "INVITE", None, None, T0 + 5, request), T0 + 5)


def _fillers(invites: list, start: int, end: int) -> list[Leg]:
    """Calls of their own between other addresses, four a second: they fill the window's memory
    so that it forgets what it may (for a number, not for bob: nothing relays them)."""
    request = next(m for m in invites if _target(m) != "bob")
    return [Leg(f"filler{ts}", "INVITE", Endpoint("198.51.100.1", 5060, "udp"), Endpoint("198.51.100.2", 5060, "udp"),
                ts, request, ts + 1) for ts in range(start, end, 250_000_000)]


@pytest.mark.parametrize("retry_after_s", [60, 110])
def test_a_call_is_remembered_until_its_last_leg(invites, retry_after_s):
    """Call ``a`` sends its first hop, then, 100 s later, another hop from the same caller (a
    later hop: no relay, and the key's first hop stays the first); call ``b`` retries with the
    same From tag: linked to ``a`` only within RETRY_WINDOW_NS of ``a``'s first hop."""
    caller = next(m for m in invites if len(m.vias) == 1 and m.from_tag)
    alice, proxy1, proxy2 = (Endpoint(ip, 5060, "udp") for ip in ("192.0.2.101", "192.0.2.111", "192.0.2.222"))
    legs = [Leg("a", "INVITE", alice, proxy1, T0, caller, None)]
    legs += _fillers(invites, T0 + 1, T0 + 99_000_000_000)
    legs += [Leg("other", "INVITE", proxy1, alice, T0 + 99_500_000_000, caller, None),
             Leg("a", "INVITE", alice, proxy2, T0 + 100_000_000_000, caller, None)]
    legs += _fillers(invites, T0 + 100_000_000_001, T0 + 200_000_000_000)
    legs.append(Leg("b", "INVITE", alice, proxy1, T0 + retry_after_s * 1_000_000_000, caller, None))
    legs.sort(key=lambda leg: leg.ts_ns)
    kinds = _Kinds({leg.call_id: "call" for leg in legs})
    relays, retries = _every_pair(legs, kinds, {"a"})
    assert (timing_links(legs, kinds), retry_links(legs, kinds, {"a"})) == (relays, retries)
    window = LinkWindow(kinds)  # both rules at once, as the bounded calls give the legs
    window.add_all(legs, failed={"a"})
    assert (window.timing, window.retry) == (relays, retries)
    assert not [link for link in relays if "a" in (link.call_id_a, link.call_id_b)]
    assert [(link.call_id_a, link.call_id_b) for link in retries] == ([("a", "b")] if retry_after_s < 64 else [])


@pytest.mark.parametrize("seed", range(6))
def test_lone_legs_and_known_calls_change_no_link(seed, invites):
    """Legs spread over many addresses (most buckets hold one leg, a tuple, some two or more, a
    deque, and go back to one as legs leave), given with ``call=True`` where the kinds say "call"
    (the kind is then not asked), some Call-IDs with several legs of one time: the links are
    those of every pair, and both kinds of bucket were held."""
    rng = random.Random(seed)
    addresses = [f"198.51.100.{n}" for n in range(1, 40)]
    legs = []
    ts = T0
    for n in range(400):
        ts += rng.choice((0, 1, 300_000_000, RELAY_WINDOW_NS // 3, RELAY_WINDOW_NS + 1))
        call_id = f"c{rng.randrange(150)}-{seed}" if rng.random() < 0.4 else f"solo{n}"
        src = Endpoint(rng.choice(addresses), 5060, "udp")
        dst = Endpoint(rng.choice(addresses), 5060, "udp")
        legs.append(Leg(call_id, "INVITE", src, dst, ts, rng.choice(invites), rng.choice((None, ts + 1, ts + 10**10))))
    kinds = _Kinds({leg.call_id: "call" if rng.random() > 0.1 else "registration" for leg in legs})
    failed = {leg.call_id for leg in legs if rng.random() < 0.5}
    relays, retries = _every_pair(legs, kinds, failed)
    last: dict[str, int] = {}
    for leg in legs:
        last[leg.call_id] = max(leg.ts_ns, last.get(leg.call_id, leg.ts_ns))
    window = LinkWindow(kinds)
    held = set()
    for leg in legs:
        window.add(leg, last[leg.call_id], leg.call_id in failed, None, kinds.get(leg.call_id) == "call")
        held.update(type(bucket).__name__ for bucket in (*window._arrivals_at.values(), *window._by_caller.values()))
    window.finish()
    assert (window.timing, window.retry) == (relays, retries)
    assert held == {"tuple", "deque"}
    assert relays or retries


def test_a_later_hop_of_the_same_time_is_no_new_call(invites):
    """Call ``p`` arrives at a proxy and leaves it in the same nanosecond (its last legs: the
    window does not remember ``p`` past that time, but within it the second hop is ``p``'s later
    hop, not a B2BUA's new leg), while ``x``, ``y`` and ``z`` (parallel calls of one sender) wait at the
    proxy for the same target: ``p``'s first hop is linked to ``z`` (the closest), its second to
    nothing (though ``y`` is free), as comparing every pair says."""
    request = next(m for m in invites if _target(m))
    proxy = Endpoint("192.0.2.111", 5060, "udp")
    legs = [Leg("x", "INVITE", Endpoint("192.0.2.50", 5060, "udp"), proxy, T0, request, None),
            Leg("y", "INVITE", Endpoint("192.0.2.50", 5061, "udp"), proxy, T0 + 500, request, None),
            Leg("z", "INVITE", Endpoint("192.0.2.50", 5062, "udp"), proxy, T0 + 700, request, None),
            Leg("p", "INVITE", Endpoint("192.0.2.101", 5060, "udp"), proxy, T0 + 1000, request, None),
            Leg("p", "INVITE", Endpoint("192.0.2.111", 5070, "udp"), Endpoint("192.0.2.222", 5060, "udp"), T0 + 1000,
                request, None)]
    kinds = _Kinds({"x": "call", "y": "call", "z": "call", "p": "call"})
    relays, retries = _every_pair(legs, kinds, set())
    assert [(link.call_id_a, link.call_id_b) for link in relays] == [("z", "p")]
    window = LinkWindow(kinds)
    for leg in legs:
        window.add(leg, T0 + 1000 if leg.call_id == "p" else leg.ts_ns, False, None, True)
    window.finish()
    assert (window.timing, window.retry) == (relays, retries)
