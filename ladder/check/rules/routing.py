"""What proxies and dialogs route by (RFC 3261 §16.6, §12.2.1.1): Max-Forwards decremented hop
by hop, in-dialog requests following the route set built from Record-Route."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from ladder.check.deviations import ERROR, Code, Deviation, deviation
from ladder.check.rules.facts import CallFacts

if TYPE_CHECKING:
    from decoders.sip import SipMessage

MAX_FORWARDS_NOT_DECREMENTED = Code("max-forwards-not-decremented", ERROR, "RFC 3261 §16.6 step 3", "a proxy forwarded a request without decrementing Max-Forwards")
ROUTE_SET_VIOLATION = Code("route-set-violation", ERROR, "RFC 3261 §12.2.1.1", "an in-dialog request whose Route does not follow the dialog's route set (Record-Route)")  # fmt: skip
CODES = (MAX_FORWARDS_NOT_DECREMENTED, ROUTE_SET_VIOLATION,)
_LR_FORMS = {"lr=on": "lr", "lr=true": "lr", "lr=1": "lr"}  # what some proxies write for ;lr


# --- proxies and dialogs ------------------------------------------------------------------------


def _via_chain(message: "SipMessage") -> tuple:
    return tuple((v.branch or "", (v.host or "").lower(), v.port) for v in message.vias)


def rule_max_forwards(facts: CallFacts) -> Iterable[Deviation]:
    """RFC 3261 §16.6 step 3: a proxy decrements Max-Forwards by one. A forwarded request is
    recognised by its Vias: the proxy's own on top of the incoming request's (so a call
    without a request of two Vias or more, ``CallFacts.relayed``, has none)."""
    if not facts.relayed:
        return
    incoming: dict[tuple, "SipMessage"] = {}
    for message in facts.originals:
        if message.is_request:
            incoming.setdefault(_via_chain(message), message)
    for message in facts.relayed:
        if facts.is_retransmission(message):
            continue
        before = incoming.get(_via_chain(message)[1:])
        if before is None or before.method != message.method:
            continue
        if before.max_forwards is None or message.max_forwards is None:
            continue
        if message.max_forwards >= before.max_forwards:
            yield deviation(
                MAX_FORWARDS_NOT_DECREMENTED,
                f"{facts.name(message)} forwards {facts.name(before)} with Max-Forwards "
                f"{message.max_forwards} (was {before.max_forwards}; RFC 3261 §16.6 step 3)",
                f=facts.fs([before, message]), frames=facts.frames([message]),
            )  # fmt: skip


def _uri_of(value: str) -> str:
    """The URI of a Route / Record-Route value, normalised for comparison: no display name,
    scheme and host lower case, parameters sorted."""
    text = value.strip()
    if "<" in text and ">" in text:
        text = text[text.index("<") + 1 : text.index(">")]
    base, _, params = text.partition(";")
    parts = sorted(_LR_FORMS.get(p.strip().lower(), p.strip().lower()) for p in params.split(";") if p.strip())
    return ";".join([base.strip().lower()] + parts)


def _names_sender(uri: str, message: "SipMessage") -> bool:
    """Whether a normalised Route URI points at the node that sent ``message``: its IP, and
    its source port or its Via sent-by port when the URI has a port (over TCP the source port
    is an ephemeral one)."""
    if message.src is None:
        return False
    hostport = uri.split(";", 1)[0].split(":", 1)[-1].rsplit("@", 1)[-1]
    if hostport.startswith("["):
        host, _, rest = hostport[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    else:
        host, _, port = hostport.partition(":")
    if host != str(message.src.ip).lower():
        return False
    via = message.top_via
    ports = {message.src.port, via.port if via is not None and via.port else 5060}
    return not port.isdigit() or int(port) in ports


def _without_sender(uris: list[str], message: "SipMessage") -> list[str]:
    """``uris`` without leading entries naming the sender (§16.4: the node removes them)."""
    while uris and _names_sender(uris[0], message):
        uris = uris[1:]
    return uris


def _dialog_route_sets(facts: CallFacts) -> dict[tuple, list[tuple[int, str, list[str]]]]:
    """(Call-ID, sender's tag, peer's tag) -> (whose, route set) for the dialogs created by an
    initial INVITE (§12.1): the UAC's is the Record-Route of the response that reached it
    (one Via left), reversed (§12.1.2); the UAS's is the Record-Route of the INVITE as it
    arrived at the node that answered it with that To tag, in order, empty when that INVITE
    had none (§12.1.1). Each entry is (from when, whose, route set): the UAC's early dialog takes
    its route set from the provisional response that created it, and the 2xx recomputes it
    (§13.2.2.4); a re-INVITE never changes it (§12.2)."""
    sets: dict[tuple, list[tuple[int, str, list[str]]]] = {}
    invites: dict[tuple, list["SipMessage"]] = {}
    for message in facts.requests("INVITE"):
        if not message.to_tag:
            invites.setdefault((message.call_id, message.from_tag, message.cseq), []).append(message)
    for message in facts.responses("INVITE"):
        if not message.to_tag:
            continue
        if not 100 < (message.status or 0) < 300:
            continue
        copies = invites.get((message.call_id, message.from_tag, message.cseq))
        if not copies:
            continue  # a response to a re-INVITE, or its INVITE is not in the capture
        record_route = message.header_values("record-route")
        uac = (message.call_id, message.from_tag, message.to_tag)
        if len(message.vias) == 1:
            final = (message.status or 0) >= 200
            known = sets.setdefault(uac, [])
            if not (final and any(w.startswith("the 2xx") for _t, w, _r in known)):
                whose = ("the 2xx's Record-Route reversed (§12.1.2, §13.2.2.4)" if final
                         else "the provisional response's Record-Route reversed (§12.1.2, early dialog)")
                known.append((message.ts_ns, whose, [_uri_of(v) for v in reversed(record_route)]))
        uas = (message.call_id, message.to_tag, message.from_tag)
        if uas in sets:
            continue
        sender = facts.sides(message)[0]
        arrived = [m for m in copies if facts.sides(m)[1] == sender and len(m.vias) == len(message.vias)]
        if arrived:
            route = [_uri_of(v) for v in arrived[0].header_values("record-route")]
            sets[uas] = [(0, "the INVITE's Record-Route (§12.1.1)", route)]
    return sets


def rule_route_set(facts: CallFacts) -> Iterable[Deviation]:
    """RFC 3261 §12.2.1.1: an in-dialog request carries the dialog's route set as Route
    (``_dialog_route_sets``). Checked on requests as their UA sent them (one Via), for loose
    routers (``;lr``) only. A leading entry naming the sender itself (a UA that Record-Routes
    itself, an outbound proxy on its own host) is left out on both sides: the node removes it
    (§16.4).

    A call without any Record-Route or Route header has nothing to report: every route set is
    then empty (made from no Record-Route) and every request's Route is empty too."""
    if not facts.carries("record-route") and not facts.carries("route"):
        return
    sets = _dialog_route_sets(facts)
    for message in facts.originals:
        if not message.is_request or len(message.vias) != 1 or not message.to_tag or message.method == "CANCEL":
            continue
        txn = facts.txns.of(message)
        if message.method == "ACK" and txn is not None and txn.method == "INVITE":
            continue  # the ACK of a non-2xx final goes where the INVITE went (§17.1.1.3)
        known = sets.get((message.call_id, message.from_tag, message.to_tag))
        if not known:
            continue
        # the route set in force when the request left: the latest response that set it before
        _t, whose, expected = max((e for e in known if e[0] <= message.ts_ns), key=lambda e: e[0], default=known[0])
        if expected and not any(p == "lr" or p.startswith("lr=") for p in expected[0].split(";")[1:]):
            continue  # a strict router rewrites the Request-URI instead (§12.2.1.1)
        route = [_uri_of(v) for v in message.header_values("route")]
        if route != expected and _without_sender(route, message) != _without_sender(expected, message):
            yield deviation(
                ROUTE_SET_VIOLATION,
                f"{facts.name(message)} has Route {_show(route)} but the route set is "
                f"{_show(expected)}, {whose} (RFC 3261 §12.2.1.1)",
                f=facts.fs([message]), frames=facts.frames([message]),
            )  # fmt: skip


def _show(uris: list[str]) -> str:
    return ", ".join(f"<{u}>" for u in uris) if uris else "(none)"
