"""Reference call flows: the ``.flow`` text format, its parser, and the built-in library.

A flow file holds one or more flows, one statement per line (``#`` starts a comment)::

    flow rfc3665-3.2 "Session Establishment Through Two Proxies"
    source RFC 3665 §3.2
    roles Alice Proxy1 Proxy2 Bob
    F1  Alice  -> Proxy1  INVITE        sdp
    F2  Proxy1 -> Alice   407
    F6  Proxy1 -> Alice   100           optional
    F8  Proxy1 <- Proxy2  100           optional
    ...
    media Alice <-> Bob
    hop Alice Bob Proxy                 # an extra proxy may sit between Alice and Bob
    skip Proxy1                         # the flow also holds without Proxy1

A step is ``F<n> ROLE -> ROLE MESSAGE [options]`` (``<-`` points the other way). MESSAGE is a
method, a status code, a class such as ``4xx``, optionally ``CODE/METHOD`` to name the request a
response answers (otherwise it is inferred: the latest request still pending the other way).
Options: ``optional``, ``required``, ``retransmission`` (a repeat of the previous step with the
same message and direction; optional unless ``required``), ``expect=CODE[,CODE]`` (rule findings
the reference itself produces at this step, such as ``no-final-response`` in RFC 3665 §3.10),
and content conditions ``sdp`` ``no-sdp`` ``contact`` ``no-contact`` ``auth`` ``no-auth``
``expires=0`` ``expires>0``. Provisional responses (1xx) are optional unless ``required``.

``either F<a>-F<b>`` names the steps that end the call (a BYE and its responses): either party
may send that BYE, which RFC 3665 shows one way only.

``episode NAME F<a>-F<b>`` names an in-dialog part of the flow (RFC 5359 §2.1's re-INVITEs:
``episode hold/resume F10-F21``) that ``ladder.check.composition`` may match on its own inside a
longer call: the reference ``ID NAME`` (``rfc5359-2.1 hold/resume``).
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field, replace
from functools import lru_cache
from importlib import resources
from pathlib import Path

from ladder.errors import UsageError

CONDITIONS = frozenset(
    {"sdp", "no-sdp", "contact", "no-contact", "auth", "no-auth", "expires=0", "expires>0",
     "hold", "no-hold", "t38", "no-t38"}
)  # fmt: skip
KINDS = ("call", "registration", "options", "subscription", "message", "publish", "episode", "service", "other")
_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_ROLE_RE = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")
_METHOD_RE = re.compile(r"[A-Z][A-Z-]*")
_STATUS_RE = re.compile(r"[1-6](?:[0-9][0-9]|xx)")
_STEP_RE = re.compile(r"F(\d+)")
_CODE_RE = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")


class FlowFileError(UsageError):
    """A ``.flow`` file that cannot be read; the message is ``FILE:LINE: what is wrong``."""


@dataclass(frozen=True, slots=True)
class Step:
    """One arrow of a reference flow.

    ``method`` is the request method, or for a response the method of the request it answers;
    ``status`` is the code (``None`` for a request), ``status_class`` is set for ``4xx``-style
    tokens. ``f`` is the RFC's F-number.
    """

    f: int
    src: str
    dst: str
    method: str
    status: int | None = None
    status_class: int | None = None
    optional: bool = False
    retransmission: bool = False
    conditions: tuple[str, ...] = ()
    expect: tuple[str, ...] = ()
    line: int = 0

    @property
    def is_request(self) -> bool:
        return self.status is None and self.status_class is None

    @property
    def label(self) -> str:
        """The message as the RFC draws it: ``INVITE``, ``407``, ``4xx``."""
        if self.status is not None:
            return str(self.status)
        if self.status_class is not None:
            return f"{self.status_class}xx"
        return self.method

    def describe(self) -> str:
        """``F7 INVITE Proxy2 -> Bob``: how deviations name a reference step."""
        return f"F{self.f} {self.label} {self.src} -> {self.dst}"


@dataclass(frozen=True, slots=True)
class Reference:
    """A whole reference flow. ``variant`` names how it was derived from the file's flow
    (``""`` for the flow as written, ``hop Alice-Bob`` ...); ``cost`` counts those changes."""

    id: str
    title: str
    roles: tuple[str, ...]
    steps: tuple[Step, ...]
    kind: str = "call"
    source: str = ""
    media: tuple[tuple[str, str, bool], ...] = ()
    hops: tuple[tuple[str, str, str], ...] = ()
    skips: tuple[str, ...] = ()
    either: tuple[int, int] | None = None
    expect: tuple[str, ...] = ()
    origin: str = ""
    variant: str = ""
    cost: int = 0
    episodes: tuple[tuple[str, int, int], ...] = ()  # (name, first F, last F)

    def step(self, f: int) -> Step | None:
        return next((s for s in self.steps if s.f == f), None)


@dataclass(slots=True)
class _FlowBuilder:
    id: str
    title: str
    line: int
    source: str = ""
    kind: str | None = None
    roles: list[str] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    media: list[tuple[str, str, bool]] = field(default_factory=list)
    hops: list[tuple[str, str, str]] = field(default_factory=list)
    skips: list[str] = field(default_factory=list)
    either: tuple[int, int] | None = None
    expect: list[str] = field(default_factory=list)
    episodes: list[tuple[str, int, int]] = field(default_factory=list)


def parse_flows(text: str, origin: str = "<flow>") -> list[Reference]:
    """Parse the text of a ``.flow`` file into references; raise ``FlowFileError`` on any
    mistake, naming the file and line."""
    flows: list[Reference] = []
    current: _FlowBuilder | None = None

    def fail(lineno: int, message: str) -> FlowFileError:
        return FlowFileError(f"{origin}:{lineno}: {message}")

    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        try:
            words = shlex.split(line)
        except ValueError as exc:
            raise fail(lineno, f"cannot split the line ({exc})") from None
        keyword = words[0]
        if keyword == "flow":
            if current is not None:
                flows.append(_finish(current, origin, fail))
            if len(words) < 2 or not _ID_RE.fullmatch(words[1]):
                raise fail(lineno, "expected: flow ID \"Title\"")
            current = _FlowBuilder(words[1], " ".join(words[2:]), lineno)
            continue
        if current is None:
            raise fail(lineno, f"{keyword!r} before the first 'flow' line")
        if keyword == "end":
            flows.append(_finish(current, origin, fail))
            current = None
        elif keyword == "source":
            current.source = " ".join(words[1:])
        elif keyword == "kind":
            if len(words) != 2 or words[1] not in KINDS:
                raise fail(lineno, "expected: kind " + "|".join(KINDS))
            current.kind = words[1]
        elif keyword == "roles":
            if current.roles:
                raise fail(lineno, "roles given twice")
            for role in words[1:]:
                if not _ROLE_RE.fullmatch(role) or role in current.roles:
                    raise fail(lineno, f"bad or repeated role name {role!r}")
                current.roles.append(role)
            if len(current.roles) < 2:
                raise fail(lineno, "a flow needs at least two roles")
        elif _STEP_RE.fullmatch(keyword):
            current.steps.append(_parse_step(words, lineno, current, fail))
        elif keyword == "media":
            current.media.append(_parse_media(words, lineno, current, fail))
        elif keyword == "hop":
            if len(words) not in (3, 4):
                raise fail(lineno, "expected: hop ROLE ROLE [NEW-ROLE]")
            a, b = words[1], words[2]
            new = words[3] if len(words) == 4 else "Proxy"
            for role in (a, b):
                _need_role(role, current, lineno, fail)
            if new in current.roles or not _ROLE_RE.fullmatch(new):
                raise fail(lineno, f"the hop's new role {new!r} must be a new role name")
            current.hops.append((a, b, new))
        elif keyword == "skip":
            if len(words) != 2:
                raise fail(lineno, "expected: skip ROLE")
            _need_role(words[1], current, lineno, fail)
            current.skips.append(words[1])
        elif keyword == "either":
            found = re.fullmatch(r"F(\d+)-F(\d+)", words[1]) if len(words) == 2 else None
            if found is None or int(found.group(1)) >= int(found.group(2)):
                raise fail(lineno, "expected: either F<first>-F<last>")
            current.either = (int(found.group(1)), int(found.group(2)))
        elif keyword == "episode":
            found = re.fullmatch(r"F(\d+)-F(\d+)", words[2]) if len(words) == 3 else None
            named = len(words) == 3 and _ID_RE.fullmatch(words[1].replace("/", "-"))  # "hold/resume"
            if found is None or not named or int(found.group(1)) > int(found.group(2)):
                raise fail(lineno, "expected: episode NAME F<first>-F<last>")
            current.episodes.append((words[1], int(found.group(1)), int(found.group(2))))
        elif keyword == "expect":
            for code in words[1:]:
                if not _CODE_RE.fullmatch(code):
                    raise fail(lineno, f"bad deviation code {code!r}")
                current.expect.append(code)
        else:
            raise fail(lineno, f"unknown statement {keyword!r}")
    if current is not None:
        flows.append(_finish(current, origin, fail))
    seen: set[str] = set()
    for flow in flows:
        if flow.id in seen:
            raise FlowFileError(f"{origin}: flow {flow.id!r} defined twice")
        seen.add(flow.id)
    return flows


def _need_role(role: str, flow: _FlowBuilder, lineno: int, fail) -> None:
    if not flow.roles:
        raise fail(lineno, "the 'roles' line must come before steps")
    if role not in flow.roles:
        raise fail(lineno, f"unknown role {role!r} (roles: {' '.join(flow.roles)})")


def _parse_media(words: list[str], lineno: int, flow: _FlowBuilder, fail):
    if len(words) != 4 or words[2] not in ("<->", "->", "<-"):
        raise fail(lineno, "expected: media ROLE <->|->|<- ROLE")
    a, arrow, b = words[1], words[2], words[3]
    _need_role(a, flow, lineno, fail)
    _need_role(b, flow, lineno, fail)
    if arrow == "<-":
        a, b = b, a
    return (a, b, arrow == "<->")


def _parse_step(words: list[str], lineno: int, flow: _FlowBuilder, fail) -> Step:
    if len(words) < 5 or words[2] not in ("->", "<-"):
        raise fail(lineno, "expected: F<n> ROLE -> ROLE MESSAGE [options]")
    f = int(words[0][1:])
    if f < 1:
        raise fail(lineno, "F-numbers start at F1")
    if any(step.f == f for step in flow.steps):
        raise fail(lineno, f"F{f} appears twice")
    src, dst = (words[1], words[3]) if words[2] == "->" else (words[3], words[1])
    _need_role(src, flow, lineno, fail)
    _need_role(dst, flow, lineno, fail)
    if src == dst:
        raise fail(lineno, "a step needs two different roles")
    token = words[4]
    method: str | None = None
    status: int | None = None
    status_class: int | None = None
    head, _, answered = token.partition("/")
    if _STATUS_RE.fullmatch(head):
        if head.endswith("xx"):
            status_class = int(head[0])
        else:
            status = int(head)
        if answered:
            if not _METHOD_RE.fullmatch(answered):
                raise fail(lineno, f"bad method {answered!r} after '/'")
            method = answered
        else:
            method = _answered_method(flow.steps, src, dst)
            if method is None:
                raise fail(lineno, f"no pending request from {dst} to {src} for {head} to answer")
    elif _METHOD_RE.fullmatch(token):
        method = token
    else:
        raise fail(lineno, f"bad message {token!r}: a method, a status code, or CODE/METHOD")
    optional: bool | None = None
    retransmission = False
    conditions: list[str] = []
    expect: list[str] = []
    for option in words[5:]:
        if option == "optional":
            optional = True
        elif option == "required":
            optional = False
        elif option == "retransmission":
            retransmission = True
        elif option.startswith("expect="):
            for code in option[len("expect="):].split(","):
                if not _CODE_RE.fullmatch(code):
                    raise fail(lineno, f"bad deviation code {code!r}")
                expect.append(code)
        elif option in CONDITIONS:
            conditions.append(option)
        else:
            raise fail(lineno, f"unknown option {option!r}")
    if retransmission:
        previous = next(
            (s for s in reversed(flow.steps) if (s.src, s.dst, s.method, s.status) == (src, dst, method, status)),
            None,
        )
        if previous is None:
            raise fail(lineno, "a retransmission must repeat an earlier step with the same message")
    provisional = (status is not None and status < 200) or status_class == 1
    if optional is None:
        # RFC 3665 §1.2: provisional responses may be absent (100 is hop-by-hop, 180 optional);
        # retransmissions only happen when something was lost or slow.
        optional = provisional or retransmission
    return Step(
        f, src, dst, method, status, status_class, optional, retransmission,
        tuple(conditions), tuple(expect), lineno,
    )  # fmt: skip


def _answered_method(steps: list[Step], responder: str, requester: str) -> str | None:
    """The method of the latest request from ``requester`` to ``responder`` still waiting for
    a final response (a 487 answers the INVITE, not the CANCEL that caused it)."""
    pending: list[Step] = []
    for step in steps:
        if step.is_request and step.method != "ACK" and not step.retransmission:
            pending.append(step)
            continue
        if step.is_request:
            continue
        final = (step.status or (step.status_class or 0) * 100) >= 200
        if final:
            for i in range(len(pending) - 1, -1, -1):
                req = pending[i]
                if (req.src, req.dst) == (step.dst, step.src) and req.method == step.method:
                    del pending[i]
                    break
    for req in reversed(pending):
        if (req.src, req.dst) == (requester, responder):
            return req.method
    return None


def _finish(flow: _FlowBuilder, origin: str, fail) -> Reference:
    if not flow.roles:
        raise fail(flow.line, f"flow {flow.id} has no 'roles' line")
    if not flow.steps:
        raise fail(flow.line, f"flow {flow.id} has no steps")
    first = flow.steps[0]
    if not first.is_request:
        raise fail(first.line, "a flow must start with a request")
    kind = flow.kind or _KIND_OF_METHOD.get(first.method, "call")
    numbers = [s.f for s in flow.steps]
    for name, a, b in flow.episodes:
        if a not in numbers or b not in numbers or numbers.index(a) > numbers.index(b):
            raise fail(flow.line, f"episode {name} F{a}-F{b}: both ends must be steps, in order")
    return Reference(
        id=flow.id,
        title=flow.title,
        roles=tuple(flow.roles),
        steps=tuple(flow.steps),
        kind=kind,
        source=flow.source,
        media=tuple(flow.media),
        hops=tuple(flow.hops),
        skips=tuple(flow.skips),
        either=_check_either(flow, fail),
        expect=tuple(flow.expect),
        origin=origin,
        episodes=tuple(flow.episodes),
    )


_KIND_OF_METHOD = {
    "REGISTER": "registration", "OPTIONS": "options", "SUBSCRIBE": "subscription",
    "MESSAGE": "message", "PUBLISH": "publish",
}  # fmt: skip


def _check_either(flow: _FlowBuilder, fail) -> tuple[int, int] | None:
    if flow.either is None:
        return None
    first, last = flow.either
    numbers = [s.f for s in flow.steps]
    inside = [n for n in numbers if first <= n <= last]
    if first not in numbers or last not in numbers or not inside or not flow.steps[0].f < first:
        raise fail(flow.line, f"either F{first}-F{last}: both ends must be steps after the first")
    start = numbers.index(first)
    if numbers[start:start + len(inside)] != inside:
        raise fail(flow.line, f"either F{first}-F{last}: the steps must follow each other")
    return flow.either


def read_flow_file(path: str | Path) -> list[Reference]:
    """The flows of one file; a missing or unreadable file is a ``FlowFileError``."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise FlowFileError(f"cannot read reference file {path}: {exc}") from None
    return parse_flows(text, str(path))


def builtin_references() -> list[Reference]:
    """The flows shipped in ``ladder/check/flows/``: RFC 3665's first (they win ties), then the
    others, each RFC in section order."""
    return list(_builtin_flows())


@lru_cache(maxsize=None)
def _builtin_flows() -> tuple[Reference, ...]:
    """Parsed once per process (0.1 s): the files ship with the package and a ``Reference`` is
    frozen. The TUI checks again on each load, a test session or an index run many times."""
    folder = resources.files(__package__) / "flows"
    flows: list[Reference] = []
    names = sorted((p.name for p in folder.iterdir() if p.name.endswith(".flow")), key=_section_key)
    for name in names:
        flows.extend(parse_flows((folder / name).read_text(encoding="utf-8"), f"references/{name}"))
    return tuple(flows)


def _section_key(name: str) -> tuple:
    parts = tuple((0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"[.-]", name))
    return (not name.startswith("rfc3665-"),) + parts


def episode_references(references: list[Reference] | tuple[Reference, ...]) -> list[Reference]:
    """The ``episode`` parts of ``references`` as references of their own (kind ``episode``,
    id ``FLOW NAME``), with the flow's roles and F-numbers, in library order."""
    found: list[Reference] = []
    for ref in references:
        for name, first, last in ref.episodes:
            numbers = [s.f for s in ref.steps]
            steps = ref.steps[numbers.index(first):numbers.index(last) + 1]
            used = {r for s in steps for r in (s.src, s.dst)}
            found.append(replace(
                ref, id=f"{ref.id} {name}", title=f"{ref.title}: {name}", kind="episode",
                roles=tuple(r for r in ref.roles if r in used), steps=steps, either=None,
                hops=tuple(h for h in ref.hops if h[0] in used and h[1] in used),
                skips=tuple(r for r in ref.skips if r in used), episodes=(), media=(),
            ))  # fmt: skip
    return found


def load_references(extra_path: str | Path | None = None) -> list[Reference]:
    """The flows of ``extra_path`` (first: they win ties when matching, being the user's more
    specific flows), then the built-in library without the flows ``extra_path`` redefines."""
    flows = builtin_references()
    if extra_path is None:
        return flows
    extra = read_flow_file(extra_path)
    ids = {flow.id for flow in extra}
    return extra + [flow for flow in flows if flow.id not in ids]


# --- variants: the same flow with a proxy more (``hop``) or a role less (``skip``) ----------


def split_hop(ref: Reference, a: str, b: str, new: str, record_route: bool) -> Reference:
    """``ref`` with a proxy ``new`` between ``a`` and ``b``.

    With ``record_route`` every message between them passes the proxy; without, only the
    initial INVITE transaction does (ACK for 2xx and later requests go end to end, RFC 3261
    §16.6 step 4). The proxy answers the INVITE with its own optional 100 Trying. The ACK of a
    non-2xx final response is hop by hop (§17.1.1.3): the proxy sends its own as soon as the
    response reaches it, before or after passing the response on."""
    steps: list[Step] = []
    first_ack = next((i for i, s in enumerate(ref.steps) if s.method == "ACK"), len(ref.steps))
    failed_at: int | None = None  # where the proxy received a non-2xx final response to INVITE
    for index, step in enumerate(ref.steps):
        between = {step.src, step.dst} == {a, b}
        hop_ack = step.method == "ACK" and failed_at is not None
        through = record_route or hop_ack or (index < first_ack and step.method in ("INVITE", "REGISTER"))
        if not between or not through:
            steps.append(step)
            continue
        if hop_ack and failed_at is not None:  # (hop_ack implies a failed_at)
            steps.append(replace(step, dst=new))
            steps.insert(failed_at + 1, replace(step, src=new))
            failed_at = None
            continue
        code = step.status or (step.status_class or 0) * 100
        if step.method == "INVITE" and code >= 200:
            failed_at = len(steps) if code >= 300 else None
        steps.append(replace(step, dst=new))
        if step.is_request and step.method == "INVITE" and not step.retransmission:
            steps.append(replace(step, src=new, dst=step.src, method="INVITE", status=100,
                                 optional=True, conditions=(), expect=()))  # fmt: skip
        steps.append(replace(step, src=new))
    roles = list(ref.roles)
    roles.insert(roles.index(a) + 1 if roles.index(a) < roles.index(b) else roles.index(b) + 1, new)
    label = f"hop {a}-{new}-{b}" + ("" if record_route else " (no record-route)")
    return replace(ref, roles=tuple(roles), steps=tuple(steps), variant=_join(ref.variant, label), cost=ref.cost + 1)


def skip_role(ref: Reference, role: str) -> Reference:
    """``ref`` without ``role``: it is merged into the role that first sends it a request, so
    messages between the two vanish and the rest keep their F-numbers."""
    into = next((s.src for s in ref.steps if s.dst == role and s.is_request), None)
    if into is None:
        return ref
    steps: list[Step] = []
    for step in ref.steps:
        src = into if step.src == role else step.src
        dst = into if step.dst == role else step.dst
        if src == dst:
            continue
        steps.append(replace(step, src=src, dst=dst))
    roles = tuple(r for r in ref.roles if r != role)
    media = tuple(
        (into if x == role else x, into if y == role else y, both) for x, y, both in ref.media
    )
    media = tuple(m for m in media if m[0] != m[1])
    return replace(
        ref, roles=roles, steps=tuple(steps), media=media,
        variant=_join(ref.variant, f"without {role}"), cost=ref.cost + 1,
    )  # fmt: skip


def _join(variant: str, label: str) -> str:
    return f"{variant}, {label}" if variant else label


def mirror_ending(ref: Reference) -> Reference:
    """``ref`` with its ``either`` steps run the other way: the other party sends the BYE.
    The requests travel the chain in the reverse order, then their responses; each step keeps
    its F-number, so a deviation still names the RFC's message."""
    if ref.either is None:
        return ref
    first, last = ref.either
    block = [s for s in ref.steps if first <= s.f <= last]
    if not block:
        return ref
    start = ref.steps.index(block[0])
    requests = [s for s in block if s.is_request]
    responses = [s for s in block if not s.is_request]
    turned = [replace(s, src=s.dst, dst=s.src) for s in reversed(requests)]
    turned += [replace(s, src=s.dst, dst=s.src) for s in reversed(responses)]
    steps = ref.steps[:start] + tuple(turned) + ref.steps[start + len(block):]
    return replace(ref, steps=steps, variant=_join(ref.variant, "the other party ends the call"))


@lru_cache(maxsize=512)
def reference_variants(ref: Reference) -> list[Reference]:
    """The flow as written, each subset of its ``skip`` roles removed, each ``hop`` inserted
    (with and without record-route), and each of those ended by the other party (``either``)."""
    variants = [ref]
    for role in ref.skips:
        variants += [skip_role(v, role) for v in variants]
    for a, b, new in ref.hops:
        variants.append(split_hop(ref, a, b, new, record_route=True))
        variants.append(split_hop(ref, a, b, new, record_route=False))
    if ref.either is not None:
        variants += [mirror_ending(v) for v in variants]
    unique: list[Reference] = []
    for variant in variants:  # a REGISTER hop is the same with or without record-route
        if all((v.roles, v.steps) != (variant.roles, variant.steps) for v in unique):
            unique.append(variant)
    return unique
