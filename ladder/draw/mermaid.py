"""The ladder as a Mermaid ``sequenceDiagram`` (for Markdown: GitHub issues, wikis).

Participants get short ids (P1, P2 …) with their names as quoted aliases; SIP messages are
``->>`` arrows whose text is ``LABEL Fn`` (``diagram.arrow_label``, as in every output); media bars are dashed ``-->>`` arrows (one way)
or notes spanning both ends (both ways). Text from the capture is cleaned of control
characters and Mermaid's special characters are written as its ``#code;`` entities.
"""

from __future__ import annotations

from ladder.draw.diagram import MEDIA, Ladder, arrow_label
from ladder.textsafe import safe_text

# Mermaid reads ';' and newlines as statement ends, '#' starts an entity, ':' splits the
# message text, and quotes/angle brackets end aliases or become HTML.
_ENTITIES = {
    "#": "#35;",
    ";": "#59;",
    '"': "#quot;",
    "<": "#lt;",
    ">": "#gt;",
    ":": "#58;",
    "%": "#37;",
    "{": "#123;",
    "}": "#125;",
}


def mermaid_escape(text: str) -> str:
    return "".join(_ENTITIES.get(ch, ch) for ch in safe_text(text))


def render_mermaid(ladder: Ladder) -> str:
    lines = ["sequenceDiagram"]
    if ladder.title:  # a comment: older Mermaid versions reject a sequence diagram title
        lines.append(f"    %% {safe_text(ladder.title)}")
    ids = [f"P{i + 1}" for i in range(len(ladder.participants))]
    for pid, participant in zip(ids, ladder.participants):
        lines.append(f'    participant {pid} as "{mermaid_escape(participant.name)}"')
    for arrow in ladder.arrows:
        src, dst = ids[arrow.src], ids[arrow.dst]
        if arrow.kind == MEDIA:
            text = mermaid_escape(arrow.label)
            if arrow.both_ways and src != dst:
                lines.append(f"    Note over {src},{dst}: {text} (both ways)")
            else:
                lines.append(f"    {src}-->>{dst}: {text}")
            continue
        text = arrow_label(arrow)
        if arrow.marks:
            text += " [" + ", ".join(arrow.marks) + "]"
        lines.append(f"    {src}->>{dst}: {mermaid_escape(text)}")
    for note in (*ladder.links, *ladder.notes):
        lines.append(f"    %% {safe_text(note)}")
    return "\n".join(lines) + "\n"
