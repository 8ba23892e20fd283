"""The merge step of ``ladder index``: call fragments found file by file made into calls of the
whole archive, as if each directory (a rotated set, files in time order) were one capture.

- Fragments of one directory that share a Call-ID are one call (RFC 3261 §8.1.1.4 makes a
  Call-ID unique in space and time).
- An RTP stream (4-tuple and SSRC) present in consecutive files of a directory is one stream;
  it is bound to a call as ``ladder.media.binding.bind_media`` binds it in one capture: to the call
  whose SDP announced its address, the latest announcement before the stream started.
- A call whose fragments and streams lie in one file, with the streams its file bound to it,
  keeps the row its worker made. Every other call's row is made again from its frames read back
  from every file where they lie (``archive_slice.analyse_parts``): exactly the unsplit row.
"""

from __future__ import annotations

import os
from typing import Any

from decoders.records import Endpoint
from ladder.archive.slice import merge_selections
from ladder.calls.unionfind import UnionFind
from ladder.export.pcap_slice import RTCP_SLACK_NS
from ladder.media.binding import SdpAnnouncement, ranked_matches


def _groups(files: list[dict[str, Any]]) -> list[list[tuple[int, int]]]:
    """Fragments ``(file position, call position)`` that are one call. Files are in time
    order, so each group is too."""
    union: UnionFind[tuple[Any, ...]] = UnionFind()
    for f, record in enumerate(files):
        directory = os.path.dirname(record["path"])
        for c, fragment in enumerate(record["_scan"]["calls"]):
            for call_id in fragment["row"]["call_ids"]:
                union.union(("fragment", f, c), ("id", directory, call_id))
    _link(files, union)
    groups: dict[Any, list[tuple[int, int]]] = {}
    for f, record in enumerate(files):
        for c, _fragment in enumerate(record["_scan"]["calls"]):
            groups.setdefault(union.find(("fragment", f, c)), []).append((f, c))
    return list(groups.values())


def _link(files: list[dict[str, Any]], union: UnionFind[tuple[Any, ...]]) -> None:
    """Fragments with different Call-IDs that ``ladder.calls.legs`` would join in one capture: the
    same correlation header value or Session-ID, or a failed attempt retried by the same
    caller with the same From tag within RETRY_WINDOW_NS (RFC 3665 §3.4)."""
    from ladder.calls.legs import RETRY_WINDOW_NS

    retries: list[tuple] = []
    for f, record in enumerate(files):
        directory = os.path.dirname(record["path"])
        for c, fragment in enumerate(record["_scan"]["calls"]):
            links = fragment["links"]
            for key in links["keys"]:
                union.union(("fragment", f, c), ("key", directory, key))
            retries.extend((directory, ts, call_id, ip, tag, from_uri, to_uri, f, c)
                           for call_id, ip, tag, from_uri, to_uri, ts in links["retries"])
    answered: set[tuple[str, Any]] = set()  # (directory, root) of groups with a 2xx to INVITE
    for f, record in enumerate(files):
        directory = os.path.dirname(record["path"])
        for c, fragment in enumerate(record["_scan"]["calls"]):
            if fragment["links"]["answered"]:
                answered.add(union.find(("fragment", f, c)))
    first_hops: dict[tuple, tuple] = {}
    for directory, ts, call_id, ip, tag, from_uri, to_uri, f, c in sorted(retries):
        key = (directory, ip, tag, from_uri, to_uri)
        earlier = first_hops.get(key)
        if earlier is None or earlier[1] == call_id:
            first_hops.setdefault(key, (ts, call_id, f, c))
            continue
        root = union.find(("fragment", earlier[2], earlier[3]))
        if root not in answered and ts - earlier[0] <= RETRY_WINDOW_NS:
            union.union(root, ("fragment", f, c))
        first_hops[key] = (ts, call_id, f, c)


class _Chain:
    """One RTP stream across consecutive files: what binding reads of an ``RtpStream`` (``binding.StreamEnds``)."""

    def __init__(self, src: str, sport: int, dst: str, dport: int, ssrc: int, first_ns: int):
        self.src = Endpoint(src, sport, "udp")
        self.dst = Endpoint(dst, dport, "udp")
        self.ssrc = ssrc
        self.first_ns = first_ns
        self.last_ns = first_ns
        self.segments: list[tuple[int, int]] = []  # (file position, last frame in it)

    @property
    def four(self) -> tuple[str, int, str, int]:
        return (self.src.ip, self.src.port, self.dst.ip, self.dst.port)


def _chains(files: list[dict[str, Any]]) -> list[_Chain]:
    """Every stream of the archive, a stream in consecutive files of one directory once."""
    chains: list[_Chain] = []
    open_chains: dict[tuple, _Chain] = {}  # (directory, four, ssrc) -> chain seen in the previous file
    previous_of: dict[str, int] = {}
    for f, record in enumerate(files):
        directory = os.path.dirname(record["path"])
        previous = previous_of.get(directory)
        previous_of[directory] = f
        for src, sport, dst, dport, ssrc, _first, last, first_ns, last_ns in record["_scan"]["streams"]:
            key = (directory, src, sport, dst, dport, ssrc)
            chain = open_chains.get(key)
            if chain is None or chain.segments[-1][0] != previous:
                chain = _Chain(src, sport, dst, dport, ssrc, first_ns)
                chains.append(chain)
                open_chains[key] = chain
            chain.segments.append((f, last))
            chain.last_ns = max(chain.last_ns, last_ns)
    return chains


def _bind(files: list[dict[str, Any]], groups: list[list[tuple[int, int]]], chains: list[_Chain]):
    """Chains bound to each group (by group position), as ``bind_media`` binds streams."""
    by_port: dict[tuple[str, int], list[_Chain]] = {}
    for chain in chains:
        directory = os.path.dirname(files[chain.segments[0][0]]["path"])
        by_port.setdefault((directory, chain.dst.port), []).append(chain)
        if chain.src.port != chain.dst.port:
            by_port.setdefault((directory, chain.src.port), []).append(chain)
    best: dict[int, tuple] = {}
    for order, group in enumerate(groups):
        facts = [files[f]["_scan"]["calls"][c]["media"] for f, c in group]
        announced = sorted((SdpAnnouncement(address, port, party, (), "", ts, "", None)
                            for fact in facts for address, port, party, ts in fact["announced"]),
                           key=lambda a: a.ts_ns)
        if not announced:
            continue
        byes = [fact["bye_ns"] for fact in facts if fact["bye_ns"] is not None]
        directory = os.path.dirname(files[group[0][0]]["path"])
        candidates = {id(c): c for port in {a.port for a in announced} for c in by_port.get((directory, port), ())}
        for chain, _matched, rank in ranked_matches(announced, candidates.values(), min(byes) if byes else None, order):
            if id(chain) not in best or rank > best[id(chain)][0]:
                best[id(chain)] = (rank, order, chain)
    bound: dict[int, list[_Chain]] = {}
    for _rank, order, chain in best.values():
        bound.setdefault(order, []).append(chain)
    return bound


def _own_streams(selection: dict[str, Any]) -> set[tuple]:
    return {(tuple(item[:4]), item[6]) for item in selection["rtp"]}


def _directories(files: list[dict[str, Any]]) -> tuple[dict[str, list[int]], dict[int, int]]:
    """The files of each directory (in time order) and each file's place among them: made once,
    not per call (per call it made the merge quadratic: 4 s of 1,000 files and 5,000 calls)."""
    in_directory: dict[str, list[int]] = {}
    for f, record in enumerate(files):
        in_directory.setdefault(os.path.dirname(record["path"]), []).append(f)
    place = {f: i for members in in_directory.values() for i, f in enumerate(members)}
    return in_directory, place


def _parts(files: list[dict[str, Any]], group: list[tuple[int, int]], chains: list[_Chain],
           directories: tuple[dict[str, list[int]], dict[int, int]]) -> list[dict[str, Any]]:
    """Where the call's frames lie: its SIP frames and its streams' frames, file by file."""
    selections: dict[int, list[dict]] = {}
    for f, c in group:
        selections.setdefault(f, []).append(files[f]["_scan"]["calls"][c]["selection"])
    merged = {f: merge_selections(s) for f, s in selections.items()}
    rtp: dict[int, set[tuple]] = {}
    in_directory = directories[0][os.path.dirname(files[group[0][0]]["path"])]
    place = directories[1]
    last_sip = max(place[f] for f in merged)
    for chain in chains:
        segments = dict(chain.segments)
        # A file holding fewer of the stream's packets than the heuristic needs to see a
        # stream (its first or last few, or a short file) lists no stream: the stream is
        # looked for from the file before its first segment to the file after its last one,
        # or to the call's last SIP file; in each from the first frame, since a stream found
        # by the heuristic starts being counted a few packets after its first one.
        low = max(place[chain.segments[0][0]] - 1, 0)
        high = min(max(place[chain.segments[-1][0]] + 1, last_sip), len(in_directory) - 1)
        for f in in_directory[low:high + 1]:
            last = segments.get(f, files[f]["frames"])
            if last:
                rtp.setdefault(f, set()).add((*chain.four, 1, last, chain.ssrc))
    rtcp, mux = set(), set()
    for chain in chains:
        src, sport, dst, dport = chain.four
        mux.update({(src, sport, dst, dport), (dst, dport, src, sport)})
        rtcp.update({(src, sport + 1, dst, dport + 1), (dst, dport + 1, src, sport + 1)})
    start = min([s["start_ns"] for s in merged.values()] + [c.first_ns - RTCP_SLACK_NS for c in chains])
    end = max([s["end_ns"] for s in merged.values()] + [c.last_ns + RTCP_SLACK_NS for c in chains])
    parts = []
    for f in sorted(set(merged) | set(rtp)):
        sip = merged[f]["sip"] if f in merged else []
        items = sorted(rtp.get(f, ()))
        last_frame = max([*sip, *(item[5] for item in items)], default=0)
        parts.append({"path": files[f]["path"], "hash": files[f]["hash"], "selection": {
            "sip": sip, "rtp": [list(item) for item in items], "rtcp": [list(x) for x in sorted(rtcp)],
            "mux": [list(x) for x in sorted(mux)], "start_ns": start, "end_ns": end, "last_frame": last_frame}})
    return parts


def merge_fragments(files: list[dict[str, Any]]):
    """``(rows, jobs)``: the rows of calls their worker got right, and for every other call
    ``(parts, call_ids, end_ns)`` to make its row from its frames (each part with its file's
    hash, so that an unchanged call is known again)."""
    groups = _groups(files)
    chains = _chains(files)
    bound = _bind(files, groups, chains)
    rows: list[dict[str, Any]] = []
    jobs: list[tuple] = []
    directories = _directories(files)
    for order, group in enumerate(groups):
        mine = bound.get(order, [])
        f, c = group[0]
        fragment = files[f]["_scan"]["calls"][c]
        if (len(group) == 1 and not fragment["row"].get("deferred") and all(len(chain.segments) == 1 and chain.segments[0][0] == f for chain in mine)
                and _own_streams(fragment["selection"]) == {(chain.four, chain.ssrc) for chain in mine}):
            part = {"path": files[f]["path"], "selection": fragment["selection"]}
            rows.append({**fragment["row"], "parts": [part], "signature": ""})
            continue
        parts = _parts(files, group, mine, directories)
        call_ids = list(fragment["row"]["call_ids"])
        for g, h in group:
            call_ids += [cid for cid in files[g]["_scan"]["calls"][h]["row"]["call_ids"] if cid not in call_ids]
        where = {g for g, _h in group} | {g for chain in mine for g, _last in chain.segments}
        jobs.append((parts, call_ids, max(files[g]["last_ts_ns"] for g in where)))
    return rows, jobs
