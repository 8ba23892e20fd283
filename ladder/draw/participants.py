"""Participants: one ladder column per network node, and its name.

Several ports of one host are one node (a UA sends from an ephemeral port and listens on
5060); a host is split per port only when messages go between two of its ports (two UAs or a
UA and a proxy behind one address, SIPp on loopback). Names: the user's aliases first; then
the From display name for the caller UA, the To display name for the callee UA, the Via
sent-by host of a node that forwards requests (a proxy), the Request-URI host of a registrar;
else the address. The caller is the leftmost column; the rest follow first appearance.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable

from decoders.quick_init import quick_init
from decoders.records import Endpoint
from decoders.errors import DecodeError
from decoders.sipuri import parse_uri
from ladder.draw.aliases import AliasMap
from ladder.draw.diagram import Participant
from ladder.textsafe import safe_text

if TYPE_CHECKING:
    from decoders.sip import SipMessage

NodeKey = tuple[str, int | None]  # (ip, port) when the host is split per port, else (ip, None)


@quick_init
@dataclass(frozen=True, slots=True)
class Columns:
    participants: tuple[Participant, ...]
    index_by_key: dict[NodeKey, int]
    split_ips: frozenset[str]
    moved: dict[NodeKey, NodeKey]
    # The (src, dst) columns of each of ``build_columns``' messages, in their order: what
    # ``column`` gives for its two endpoints (a message's endpoint is a SIP key, in
    # ``index_by_key`` under ``key_of``, which is ``column``'s first key; a missing one is 0),
    # found while the keys are made, not looked up again (``check.call_check._View``).
    ends: tuple[tuple[int, int], ...] = ()

    def column(self, endpoint: Endpoint | None) -> int:
        """The column of an endpoint (0 when the capture had no address: never in practice)."""
        if endpoint is None:
            return 0
        key: tuple[str, int | None] = (endpoint.ip, endpoint.port) if endpoint.ip in self.split_ips else (endpoint.ip, None)
        key = self.moved.get(key, key)
        index = self.index_by_key.get(key)
        if index is None:
            index = self.index_by_key.get((endpoint.ip, None))
        if index is None:  # a split host reached on a port it never used for SIP (media)
            index = next((i for (ip, _), i in self.index_by_key.items() if ip == endpoint.ip), 0)
        return index


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def _label(key: NodeKey) -> str:
    ip, port = key
    if port is None:
        return ip
    return Endpoint(ip, port).address()


def build_columns(messages: list["SipMessage"], *, caller_ip: str | None, kind: str = "call",
                  aliases: AliasMap | None = None,
                  media_endpoints: Iterable[Endpoint] = ()) -> Columns:
    """Columns for the messages of one ladder (capture order) plus media-only addresses."""
    named = aliases if aliases else None  # (an empty map names nothing: not asked)
    split_ips = frozenset(
        m.src.ip for m in messages
        if m.src and m.dst and m.src.ip == m.dst.ip and m.src.port != m.dst.port
    )

    def raw_key(endpoint: Endpoint) -> NodeKey:
        return (endpoint.ip, endpoint.port) if endpoint.ip in split_ips else (endpoint.ip, None)

    # Each message's (src, dst) node keys, made once (None for a missing address): the helpers
    # below read these instead of asking ``raw_key``/``key_of`` of an endpoint again.
    if split_ips:
        raw = [(None if m.src is None else raw_key(m.src), None if m.dst is None else raw_key(m.dst))
               for m in messages]
    else:  # (most calls) ``raw_key`` is (ip, None)
        raw = [(None if m.src is None else (m.src.ip, None), None if m.dst is None else (m.dst.ip, None))
               for m in messages]
    moved = _moved_uas(messages, raw)

    def key_of(endpoint: Endpoint) -> NodeKey:
        key = raw_key(endpoint)
        return moved.get(key, key)

    keys = [(None if src is None else moved.get(src, src), None if dst is None else moved.get(dst, dst))
            for src, dst in raw] if moved else raw  # ``key_of`` of each message's src and dst

    order: list[NodeKey] = []
    endpoints: dict[NodeKey, list[Endpoint]] = {}

    def see(key: NodeKey | None, endpoint: Endpoint | None) -> None:
        if key is None or endpoint is None:  # (both or neither: no address)
            return
        known = endpoints.get(key)
        if known is None:
            known = endpoints[key] = []
            order.append(key)
        if endpoint not in known:
            known.append(endpoint)

    for message, (src, dst) in zip(messages, keys):
        see(src, message.src)
        see(dst, message.dst)
    sip_keys = set(order)
    known_ips = {ip for ip, _ in order}
    for endpoint in media_endpoints:
        if endpoint.ip in known_ips:
            continue
        see(key_of(endpoint), endpoint)
        known_ips.add(endpoint.ip)

    # The caller: the sender of the first dialog-creating (or first) request.
    first_request = next((m for m in messages if m.is_request and not m.to_tag), None) \
        or next((m for m in messages if m.is_request), None)
    caller_key: NodeKey | None = None
    if first_request is not None and first_request.src is not None:
        if caller_ip is None or first_request.src.ip == caller_ip:
            caller_key = key_of(first_request.src)
    if caller_key is None and caller_ip is not None:
        caller_key = next((k for k in order if k[0] == caller_ip), None)
    if caller_key is not None and caller_key in order:
        order.remove(caller_key)
        order.insert(0, caller_key)

    names, roles = _automatic_names(messages, keys, caller_key, kind)
    participants: list[tuple[str, tuple[Endpoint, ...], str, tuple[str, int | None]]] = []
    used: dict[str, int] = {}
    for key in order:
        ip, port = key
        alias = None
        if named is not None:
            alias = named.lookup(ip, port)
            if alias is None:
                alias = next((named.lookup(e.ip, e.port) for e in endpoints[key] if named.lookup(e.ip, e.port)), None)
        name = safe_text(alias or names.get(key) or _label(key))
        used[name] = used.get(name, 0) + 1
        role = roles.get(key, "unknown" if key in sip_keys else "media")
        participants.append((name, tuple(endpoints[key]), role, key))
    # Two columns must never share a name: add the address to every duplicate.
    participants = [(f"{name} ({_label(key)})" if used[name] > 1 else name, eps, role, key)
                    for name, eps, role, key in participants]
    index_by_key = {key: i for i, (_, _, _, key) in enumerate(participants)}
    return Columns(
        participants=tuple(Participant(name, eps, role) for name, eps, role, _ in participants),
        index_by_key=index_by_key,
        split_ips=split_ips,
        moved=moved,
        ends=tuple([(0 if src is None else index_by_key[src], 0 if dst is None else index_by_key[dst])
                    for src, dst in keys]),
    )


Keys = list[tuple[NodeKey | None, NodeKey | None]]  # each message's (src, dst) node keys, None: no address


def _moved_uas(messages: list["SipMessage"], raw: Keys) -> dict[NodeKey, NodeKey]:
    """A UA that changes address mid-call (RFC 3665 §3.7) stays one column: the same dialog
    tag sent from two addresses by a UA. A request with a single Via came from the UA that
    made it (proxies add Vias; ACK and CANCEL excepted); a 1xx/2xx with a To tag from a node that never forwarded an
    initial request came from the UAS. ``raw``: each message's (src, dst) keys before any move."""
    forwarders = {src for m, (src, _) in zip(messages, raw) if m.is_request and src is not None and not m.to_tag
                  and len(m.vias) > 1}
    owners: dict[tuple[str, str], list[NodeKey]] = {}
    for m, (key, _) in zip(messages, raw):
        if key is None:
            continue
        # ACK for a non-2xx and CANCEL are hop-by-hop: a proxy sends them with one Via.
        if m.is_request and len(m.vias) == 1 and m.from_tag and m.method not in ("ACK", "CANCEL"):
            tag = m.from_tag
        elif (not m.is_request and m.to_tag and m.status is not None and m.status < 300
              and key not in forwarders):
            tag = m.to_tag
        else:
            continue
        keys = owners.setdefault((m.call_id or "", tag), [])
        if key not in keys:
            keys.append(key)
    moved: dict[NodeKey, NodeKey] = {}
    if all(len(keys) == 1 for keys in owners.values()):
        return moved  # (most calls) no tag sent from two addresses: nothing to move
    # Two addresses that exchange messages are two nodes, whatever their tags say (SIPp's
    # scenarios put tag=1 on both sides).
    talking = {frozenset((src, dst)) for src, dst in raw if src is not None and dst is not None}
    for keys in owners.values():
        home = keys[0]
        for key in keys[1:]:
            if key not in moved and key != home and frozenset((key, home)) not in talking:
                moved[key] = moved.get(home, home)
    return moved


def _automatic_names(messages: list["SipMessage"], keys: Keys, caller_key: NodeKey | None,
                     kind: str) -> tuple[dict[NodeKey, str], dict[NodeKey, str]]:
    """Names and roles of the nodes; ``keys``: each message's (src, dst) node keys."""
    names: dict[NodeKey, str] = {}
    roles: dict[NodeKey, str] = {}
    # (request, its sender's key, its receiver's key) of the dialog-creating requests
    initial = [(m, src, dst) for m, (src, dst) in zip(messages, keys)
               if m.is_request and not m.to_tag and src is not None and dst is not None
               and m.method not in ("ACK", "CANCEL")]
    senders = {src for _, src, _ in initial}
    receivers = [dst for _, _, dst in initial]
    call_ids_by_sender: dict[NodeKey, set[str]] = {}
    for m, src, _ in initial:
        call_ids_by_sender.setdefault(src, set()).add(m.call_id or "")

    # Forwarders: nodes that send dialog-creating requests and are not the caller.
    for m, key, _ in initial:
        if key == caller_key or key in names:
            continue
        roles[key] = "proxy"
        via = m.top_via
        if via is not None and via.host and not _is_ip(via.host):
            names[key] = via.host
    for key in senders - {caller_key}:
        arrivals = {m.call_id for m, _, dst in initial if dst == key}
        if arrivals and call_ids_by_sender.get(key, set()) - arrivals:
            roles[key] = "b2bua"

    if caller_key is not None:
        roles[caller_key] = "ua"
        # its first dialog-creating request, else its first request
        first = None
        for m, src, _ in initial:
            if src == caller_key:
                first = m
                break
        else:
            for m, (sender, _) in zip(messages, keys):
                if m.is_request and sender == caller_key:
                    first = m
                    break
        if first is not None and first.from_display:
            names[caller_key] = first.from_display.strip()

    for key in receivers:
        if key in senders or key == caller_key or key in names:
            continue
        request = next(m for m, _, dst in initial if dst == key)  # (a receiver's: one there)
        if kind == "registration" or request.method == "REGISTER":
            roles[key] = "registrar"
            host = _uri_host(request.request_uri)
            if host and not _is_ip(host):
                names[key] = host
        elif _is_callee(key, request, messages, keys):
            roles[key] = "ua"
            if kind == "call" and request.to_display:
                names[key] = request.to_display.strip()
    return names, roles


def _is_callee(key: NodeKey, request: "SipMessage", messages: list["SipMessage"], keys: Keys) -> bool:
    """A final receiver is the callee UA when it answered with a To tag, or when the request
    reached it retargeted to a contact (Request-URI no longer the To URI, RFC 3261 §16.5);
    an unresponsive next hop (RFC 3665 §3.4's failed proxy) is neither."""
    for m, (src, _) in zip(messages, keys):
        if not m.is_request and src == key and m.to_tag \
                and m.call_id == request.call_id and m.status is not None and m.status < 300:
            return True
    return bool(request.request_uri and request.to_uri
                and request.request_uri.split(";")[0] != request.to_uri.split(";")[0])


def _uri_host(uri: str | None) -> str:
    if not uri:
        return ""
    try:
        return parse_uri(uri).host
    except DecodeError:
        return ""
