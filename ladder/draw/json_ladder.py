"""The stable JSON form of ladders (``ladder show --format json``), documented in docs/JSON.md.

``from``/``to`` index ``participants``; ``time`` is seconds from the capture's first frame;
``frames`` are 1-based frame numbers. Fields are only ever added, never renamed.
"""

from __future__ import annotations

from ladder.draw.diagram import MEDIA, Ladder
from ladder.textsafe import json_text

SCHEMA_VERSION = 1


def ladder_dict(ladder: Ladder) -> dict:
    """One call of the ``calls`` array."""
    return {
        "id": ladder.call_key,
        "call_ids": list(ladder.call_ids),
        "kind": ladder.kind,
        "outcome": ladder.outcome,
        "outcome_text": ladder.outcome_text,
        "title": ladder.title,
        "participants": [
            {"name": p.name, "role": p.role, "endpoints": [str(e) for e in p.endpoints]}
            for p in ladder.participants
        ],
        "arrows": [
            {
                "f": a.f,
                "kind": a.kind,
                "label": a.label,
                "method": a.method if a.kind != MEDIA else None,
                "status": a.status,
                "from": a.src,
                "to": a.dst,
                "time": round((a.ts_ns - ladder.t0_ns) / 1e9, 6),
                "frames": list(a.frames),
                "retransmission": a.retransmission,
                "copies": list(a.copies),
                "call_id": a.call_id or None,
                "both_ways": a.both_ways if a.kind == MEDIA else None,
                "marks": list(a.marks),
            }
            for a in ladder.arrows
        ],
        "links": list(ladder.links),
        "notes": list(ladder.notes),
    }


def render_json(ladders: list[Ladder]) -> str:
    """``{"calls": [...]}`` as indented JSON text ending with a newline."""
    document = {"version": SCHEMA_VERSION, "calls": [ladder_dict(ladder) for ladder in ladders]}
    return json_text(document, indent=2) + "\n"
