"""Rules on one message's own bytes (RFC 3261 §7.3.1, §8.1.1.7, §18.1.1, §18.3, §20.14):
duplicate parameters, the branch cookie, Content-Length, requests too large for UDP."""

from __future__ import annotations

import re
from collections.abc import Hashable, Iterable
from typing import TYPE_CHECKING

from decoders.header_names import LIST_HEADERS
from decoders.memo import remember
from decoders.sipuri import split_outside_quotes
from ladder.calls.transactions import MAGIC_COOKIE
from ladder.check.deviations import ERROR, WARNING, Code, Deviation, deviation
from ladder.check.rules.facts import RELIABLE, CallFacts

if TYPE_CHECKING:
    from decoders.sip import SipMessage

DUPLICATE_PARAMETER = Code("duplicate-parameter", ERROR, "RFC 3261 §7.3.1", "a header parameter given twice in one header value (two tag= on a To)")
BRANCH_WITHOUT_COOKIE = Code("branch-without-cookie", WARNING, "RFC 3261 §8.1.1.7", "a Via branch without the z9hG4bK magic cookie")
CONTENT_LENGTH_MISMATCH = Code("content-length-mismatch", ERROR, "RFC 3261 §20.14, §18.3", "Content-Length differs from the body's size")
OVERSIZED_UDP = Code("oversized-udp", WARNING, "RFC 3261 §18.1.1", "a request over UDP larger than 1300 bytes (or within 200 bytes of the path MTU)")  # fmt: skip
CODES = (DUPLICATE_PARAMETER, BRANCH_WITHOUT_COOKIE, CONTENT_LENGTH_MISMATCH, OVERSIZED_UDP,)
_EXTRA_BYTES_RE = re.compile(r"^(\d+) bytes after the Content-Length")


_PARAM_HEADERS = ("from", "to", "via", "contact", "record-route", "route")


def _header_params(name: str, value: str) -> list[str]:
    """The header parameters' names of one header value (those of its URI left out: in a
    name-addr they are inside <>, in a Via they are all header parameters)."""
    if name == "via":
        params = value.split(";", 1)[1] if ";" in value else ""
    elif "<" in value and ">" in value:
        params = value[value.index(">") + 1 :]
    elif value.strip() == "*":
        return []
    else:
        params = value.split(";", 1)[1] if ";" in value else ""
    names = []
    for piece in split_outside_quotes(params, ";"):
        piece = piece.strip()
        if piece:
            names.append(piece.partition("=")[0].strip().lower())
    return names


def _params_twice(name: str, value: str) -> tuple[str, ...]:
    """The header parameter names ``value`` has more than once, sorted."""
    if value.count(";") < 2 and (name == "via" or "<" not in value or ">" not in value):
        return ()  # one ';' at most before the parameters: one parameter at most
    if name != "via" and "<" in value and ">" in value:
        tail = value[value.index(">") + 1:]  # what ``_header_params`` splits
        if tail.count(";") < 2 and not tail.partition(";")[0].strip():
            return ()  # nothing before its one ';' at most: one parameter at most (";tag=x")
    if name == "via" and '"' not in value:
        # ``_header_params`` of a Via without quoted strings (then nothing hides a ';'): the
        # names of its pieces after the first ';', read without the general walk.
        names = [piece.partition("=")[0].strip().lower() for piece in value.split(";")[1:] if piece.strip()]
    else:
        names = _header_params(name, value)
    if len(set(names)) == len(names):
        return ()  # (the usual answer, without counting each name)
    return tuple(sorted({n for n in names if names.count(n) > 1}))


# The Via values one node sends differ in their branch alone (a branch a transaction): what a
# Via value has twice is remembered by its text without the branch value, across calls
# (bounded, as the parser's memos are).
_VIA_MEMO: dict[str, tuple[str, ...]] = {}
_VIA_MEMO_ENTRIES = 4096
_VIA_MEMO_LENGTH = 512


def _via_params_twice(value: str) -> tuple[str, ...]:
    """``_params_twice("via", value)``, remembered by ``value`` without the value of its first
    ``;branch=``: its answer depends on the parameter names alone, and the cut (up to the next
    ';') leaves every piece its name and every ';' in place. Not for values with a quoted string
    (the cut could take a closing quote) or longer than ``_VIA_MEMO_LENGTH``."""
    if '"' in value or len(value) > _VIA_MEMO_LENGTH:
        return _params_twice("via", value)
    head, sep, rest = value.partition(";branch=")
    if sep:
        cut = rest.find(";")
        key = head + sep + (rest[cut:] if cut >= 0 else "")
    else:
        key = value
    twice = _VIA_MEMO.get(key)
    if twice is None:
        twice = remember(_VIA_MEMO, key, _params_twice("via", key), _VIA_MEMO_ENTRIES)
    return twice


def _repeated_params(message: "SipMessage", name: str, lines: tuple[str, ...]) -> list[tuple[str, tuple[str, ...]]]:
    """(value, the parameter names it has twice) for each value of header ``name`` that has one
    (``header_values``, ``_params_twice``), ``lines`` being its lines (``header_index``). A value is part
    of a line, so lines without any ``;`` hold no parameter at all: that usual case (a To or
    Contact without parameters) is answered without splitting them."""
    if ";" not in lines[0] if len(lines) == 1 else not any(";" in line for line in lines):
        return []
    found = []
    # (a header that is no list has its lines for values, as ``header_values`` gives them)
    for value in message.header_values(name) if name in LIST_HEADERS else lines:
        twice = _via_params_twice(value) if name == "via" else _params_twice(name, value)
        if twice:
            found.append((value, twice))
    return found


def rule_duplicate_parameter(facts: CallFacts) -> Iterable[Deviation]:
    """RFC 3261 §7.3.1: a parameter name appears at most once in a header field value (two
    ``tag=`` on a To header leave the dialog undefined). One finding per sender and header."""
    groups: dict[tuple, tuple[str, list["SipMessage"]]] = {}
    # A call repeats its From, To and Via lines: what a header's lines hold is judged once a
    # call, for each header (the values are made from the lines alone, so equal lines give
    # equal answers). Headers no message of the call carries are not asked for.
    headers: list[tuple[str, dict[tuple[str, ...], list[tuple[str, tuple[str, ...]]]]]] = [
        (name, {}) for name in _PARAM_HEADERS if facts.carries(name)]
    for message in facts.originals:
        index = message.header_index()
        for name, known in headers:
            lines = index.get(name)
            if not lines:
                continue
            repeated = known.get(lines)
            if repeated is None:
                repeated = known[lines] = _repeated_params(message, name, lines)
            if repeated:
                for value, twice in repeated:
                    key = (facts.sides(message)[0], name, twice)
                    groups.setdefault(key, (value.strip(), []))[1].append(message)
    for (_, name, twice), (value, messages) in groups.items():
        shown = ", ".join(f"{n}=" for n in twice)
        yield deviation(
            DUPLICATE_PARAMETER,
            f"{facts.name(messages[0])} has {shown} more than once in {name.title()}: {value[:120]!r} "
            f"({len(messages)} message(s) from this sender; RFC 3261 §7.3.1)",
            f=facts.fs(messages), frames=facts.frames(messages),
        )  # fmt: skip


def rule_branch_cookie(facts: CallFacts) -> Iterable[Deviation]:
    """RFC 3261 §8.1.1.7: the branch starts with ``z9hG4bK``; reported once per sender."""
    by_sender: dict[Hashable, list["SipMessage"]] = {}
    for message in facts.originals:
        if not message.is_request:
            continue
        branch = message.branch
        if branch is None or not branch.startswith(MAGIC_COOKIE):
            by_sender.setdefault(facts.sides(message)[0], []).append(message)
    for group in by_sender.values():
        first = group[0]
        shown = repr(first.branch) if first.branch else "no branch"
        yield deviation(
            BRANCH_WITHOUT_COOKIE,
            f"{facts.name(first)} top Via has {shown}, without the z9hG4bK magic cookie "
            f"({len(group)} request(s) from this sender; RFC 3261 §8.1.1.7)",
            f=facts.fs(group), frames=facts.frames(group),
        )  # fmt: skip


def rule_content_length(facts: CallFacts) -> Iterable[Deviation]:
    """RFC 3261 §20.14: Content-Length is the body's size in octets; §18.3: it is mandatory
    on stream transports."""
    for message in facts.messages:
        declared = message.content_length
        actual = len(message.body)
        extra = 0
        for problem in message.problems:
            found = _EXTRA_BYTES_RE.match(problem)
            if found:
                extra = int(found.group(1))
        if declared is None:
            if facts.transport(message) in RELIABLE:
                yield deviation(
                    CONTENT_LENGTH_MISMATCH,
                    f"{facts.name(message)} has no Content-Length, mandatory over "
                    f"{facts.transport(message).upper()} (RFC 3261 §18.3, §20.14)",
                    f=facts.fs([message]), frames=facts.frames([message]),
                )  # fmt: skip
            continue
        if declared > actual or extra:
            body = actual + extra
            yield deviation(
                CONTENT_LENGTH_MISMATCH,
                f"{facts.name(message)} declares Content-Length {declared} but its body has "
                f"{body} bytes (RFC 3261 §20.14)",
                f=facts.fs([message]), frames=facts.frames([message]),
                severity=None if declared > actual else WARNING,
            )  # fmt: skip


def rule_oversized_udp(facts: CallFacts) -> Iterable[Deviation]:
    """RFC 3261 §18.1.1: a request larger than 1300 bytes (path MTU unknown), or within 200
    bytes of the path MTU, must go over a congestion-controlled transport such as TCP."""
    mtu = facts.settings.path_mtu
    limit = mtu - 200 if mtu else 1300
    groups: dict[tuple, list["SipMessage"]] = {}
    for message in facts.originals:
        if not message.is_request:
            continue
        if facts.transport(message) != "udp" or len(message.raw) <= limit:
            continue
        groups.setdefault((message.call_id, message.cseq, message.method), []).append(message)
    for group in groups.values():
        first = group[0]
        fragments = max(len(m.frames) for m in group)
        how = f", carried in {fragments} IP fragments" if fragments > 1 else ""
        yield deviation(
            OVERSIZED_UDP,
            f"{facts.name(first)} is {len(first.raw)} bytes over UDP{how}; above {limit} bytes "
            f"RFC 3261 §18.1.1 requires TCP",
            f=facts.fs(group), frames=facts.frames(group),
        )  # fmt: skip
