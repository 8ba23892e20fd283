"""SIP URI, name-addr and Via parsing (RFC 3261 §19.1, §20.10, §20.42, §25.1).

Each helper takes one header value (already unfolded) and returns a frozen record, or raises
``Malformed`` with reason ``malformed-sip`` and a message citing the RFC rule it broke.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from urllib.parse import unquote

from decoders.errors import DecodeError, Malformed
from decoders.memo import remember
from decoders.numbers import bounded_number
from decoders.quick_init import quick_init

REASON = "malformed-sip"

# RFC 3261 §25.1: token = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~")
TOKEN_RE = re.compile(r"[A-Za-z0-9\-.!%*_+`'~]+")
# A URI scheme (RFC 3986 §3.1), the part before ":" in every absoluteURI / SIP-URI.
_SCHEME_RE = re.compile(r"[A-Za-z][A-Za-z0-9+\-.]*")
_WS = " \t"


def _fail(message: str) -> Malformed:
    return Malformed(message, REASON)


@quick_init
@dataclass(frozen=True, slots=True)
class SipUri:
    """A parsed URI. For sip/sips: user (percent-decoded), password, host (lower case; IPv6
    keeps its brackets), port, params (names lower case, valueless params map to ""), headers.
    For tel: ``user`` is the number. Other schemes keep everything after ``:`` in ``opaque``."""

    scheme: str
    user: str | None
    password: str | None
    host: str
    port: int | None
    params: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    text: str = ""
    opaque: str = ""

    def __str__(self) -> str:
        return self.text

    def host_port(self) -> str:
        return self.host if self.port is None else f"{self.host}:{self.port}"


@quick_init
@dataclass(frozen=True, slots=True)
class NameAddr:
    """``[display] <uri> ;params`` or a bare addr-spec; ``params`` are the header parameters
    (tag, expires, q ...) with lower-case names; ``display`` is unquoted, or None."""

    display: str | None
    uri: str
    params: dict[str, str] = field(default_factory=dict)

    @property
    def tag(self) -> str | None:
        return self.params.get("tag")

    def parsed_uri(self) -> SipUri:
        return parse_uri(self.uri)


@quick_init
@dataclass(frozen=True, slots=True)
class Via:
    """One via-parm (RFC 3261 §20.42). ``transport`` is upper case as it is compared
    case-insensitively; ``rport`` is the port a server filled in (a bare ``;rport`` request
    shows only in ``params`` as "")."""

    transport: str
    host: str
    port: int | None
    branch: str | None
    received: str | None
    rport: int | None
    params: dict[str, str] = field(default_factory=dict)
    protocol: str = "SIP/2.0"

    def sent_by(self) -> str:
        return self.host if self.port is None else f"{self.host}:{self.port}"


def split_params(text: str, what: str) -> dict[str, str]:
    """``;a=b ;c`` -> {"a": "b", "c": ""}; names lower case, LWS around "=" and ";" dropped
    (RFC 3261 §25.1 SEMI / EQUAL). Quoted values keep their quotes stripped."""
    params: dict[str, str] = {}
    if not text:
        return params
    for piece in split_outside_quotes(text, ";"):
        piece = piece.strip(_WS)
        if not piece:
            continue  # ";;" carries nothing; callers report it where it matters
        name, sep, value = piece.partition("=")
        name = name.strip(_WS).lower()
        value = value.strip(_WS)
        if not TOKEN_RE.fullmatch(name):
            raise _fail(f"{what} parameter name {name[:40]!r} is not a token (RFC 3261 §25.1 generic-param)")
        if sep and value.startswith('"'):
            value = unquote_string(value, what)
        params[name] = value
    return params


def split_outside_quotes(text: str, sep: str, *, angles: bool = False) -> list[str]:
    """Split on ``sep`` except inside a quoted string (backslash escapes honoured) and, with
    ``angles``, inside ``<...>`` (a URI in a name-addr may hold the separator)."""
    if '"' not in text and not (angles and "<" in text):
        return text.split(sep)
    parts: list[str] = []
    start = 0
    quoted = False
    depth = 0
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if quoted:
            if ch == "\\":
                i += 1
            elif ch == '"':
                quoted = False
        elif ch == '"':
            quoted = True
        elif angles and ch == "<":
            depth += 1
        elif angles and ch == ">" and depth:
            depth -= 1
        elif ch == sep and not depth:
            parts.append(text[start:i])
            start = i + 1
        i += 1
    parts.append(text[start:])
    return parts


def quoted_string_end(text: str, start: int, what: str) -> int:
    """Index just past the closing quote of the quoted-string opening at ``start``."""
    i = start + 1
    n = len(text)
    while i < n:
        ch = text[i]
        if ch == "\\":
            i += 2
            continue
        if ch == '"':
            return i + 1
        i += 1
    raise _fail(f"{what} has an unterminated quoted-string (RFC 3261 §25.1 quoted-string)")


_QUOTED_PAIR_RE = re.compile(r"\\(.)", re.DOTALL)


def _unescape(content: str) -> str:
    """A quoted-string's content with its quoted-pairs expanded (most have none)."""
    return _QUOTED_PAIR_RE.sub(r"\1", content) if "\\" in content else content


def unquote_string(text: str, what: str) -> str:
    """The content of a quoted-string with quoted-pairs expanded (RFC 3261 §25.1)."""
    end = quoted_string_end(text, 0, what)
    if text[end:].strip(_WS):
        raise _fail(f"{what} has text after its quoted-string (RFC 3261 §25.1)")
    return _unescape(text[1 : end - 1])


# The URIs of a call's parties come back in every message (the ladder's columns and the calls'
# parties read them per message): each parse is remembered with its notes, bounded in entries and
# in text length. The records are frozen and shared, as sip.py's memo tables share theirs.
_URI_MEMO: dict[str, tuple[SipUri, tuple[str, ...]]] = {}
_URI_MEMO_ENTRIES = 4096
_URI_MEMO_LENGTH = 512


def parse_uri(text: str, notes: list[str] | None = None) -> SipUri:
    """Parse a SIP/SIPS URI (RFC 3261 §19.1.1), a tel URI (RFC 3966) or any absoluteURI.
    Leniencies are appended to ``notes`` when given."""
    entry = _URI_MEMO.get(text)
    if entry is None:
        found: list[str] = []
        try:
            entry = (_parse_uri(text, found), tuple(found))
        except DecodeError:
            if notes is not None:  # what was noted before the defect, as without the memo
                notes.extend(found)
            raise
        if len(text) <= _URI_MEMO_LENGTH:
            remember(_URI_MEMO, text, entry, _URI_MEMO_ENTRIES)
    if notes is not None and entry[1]:
        notes.extend(entry[1])
    return entry[0]


def _parse_uri(text: str, notes: list[str]) -> SipUri:
    text = text.strip(_WS)
    scheme, colon, rest = text.partition(":")
    if not colon or not _SCHEME_RE.fullmatch(scheme):
        raise _fail(f"URI {text[:60]!r} has no scheme (RFC 3261 §19.1.1)")
    scheme = scheme.lower()
    if any(ch in rest for ch in " \t\r\n<>"):
        raise _fail(f"URI {text[:60]!r} contains whitespace or <> (RFC 3261 §19.1.1, §25.1)")
    if scheme in ("sip", "sips"):
        return _parse_sip_uri(text, scheme, rest, notes)
    if scheme == "tel":
        number, _, params = rest.partition(";")
        return SipUri(scheme, number, None, "", None, split_params(params, "tel URI"), {}, text, rest)
    return SipUri(scheme, None, None, "", None, {}, {}, text, rest)


def _parse_sip_uri(text: str, scheme: str, rest: str, notes: list[str]) -> SipUri:
    # userinfo cannot hold an unescaped "@" and neither can hostport, params or headers.
    at = rest.find("@")
    user = password = None
    if at >= 0:
        userinfo, rest = rest[:at], rest[at + 1 :]
        if not userinfo:
            raise _fail(f"SIP URI {text[:60]!r} has an empty user before '@' (RFC 3261 §25.1 userinfo)")
        raw_user, has_pw, raw_pw = userinfo.partition(":")
        user = unquote(raw_user, errors="replace")
        password = unquote(raw_pw, errors="replace") if has_pw else None
    hostport, _, headers_text = rest.partition("?")
    hostport, _, params_text = hostport.partition(";")
    host, port = split_host_port(hostport, f"SIP URI {text[:60]!r}", notes)
    params = split_params(params_text, "SIP URI")
    headers: dict[str, str] = {}
    if headers_text:
        for item in headers_text.split("&"):
            name, _, value = item.partition("=")
            headers[unquote(name, errors="replace")] = unquote(value, errors="replace")
    return SipUri(scheme, user, password, host, port, params, headers, text, "")


def _bare_ipv6(hostport: str) -> tuple[str, int | None] | None:
    """An IPv6 address written without brackets, optionally followed by ":port"."""
    try:
        return f"[{ipaddress.IPv6Address(hostport).compressed}]", None
    except ValueError:
        pass  # not an address as a whole; perhaps address + ":port"
    head, _, port_text = hostport.rpartition(":")
    port = bounded_number(port_text, 65535)
    try:
        address = ipaddress.IPv6Address(head)
    except ValueError:
        return None
    return (f"[{address.compressed}]", port) if port is not None else None


def split_host_port(hostport: str, what: str, notes: list[str] | None = None) -> tuple[str, int | None]:
    """``host[:port]`` (IPv6 references in brackets) -> (lower-case host, port or None).

    Leniency: an IPv6 address without brackets (seen from real phones) is accepted, bracketed,
    and reported in ``notes`` when the caller passes a list."""
    hostport = hostport.strip(_WS)
    if hostport.count(":") >= 2 and not hostport.startswith("["):
        bare = _bare_ipv6(hostport)
        if bare is not None:
            if notes is not None:
                notes.append(f"{what}: IPv6 address is not in brackets (RFC 3261 §25.1 IPv6reference)")
            return bare
    if hostport.startswith("["):
        close = hostport.find("]")
        if close < 0:
            raise _fail(f"{what} has an IPv6 reference without ']' (RFC 3261 §25.1 IPv6reference)")
        host, tail = hostport[: close + 1], hostport[close + 1 :].strip(_WS)
    else:
        host, sep, port_text = hostport.partition(":")
        tail = ":" + port_text if sep else ""
        host = host.strip(_WS)
    if not host or any(ch in host for ch in " \t\"<>,@"):
        raise _fail(f"{what} has no valid host (RFC 3261 §25.1 hostport)")
    port = None
    if tail:
        port_text = tail[1:].strip(_WS) if tail.startswith(":") else tail
        port = bounded_number(port_text, 65535) if tail.startswith(":") else None
        if port is None:
            raise _fail(f"{what} has a bad port {tail[1:][:20]!r} (RFC 3261 §25.1 port)")
    return host.lower(), port


def parse_name_addr(value: str) -> NameAddr:
    """Parse a From/To/Contact/Route style value (RFC 3261 §20.10, §20.20, §20.39).

    Without ``<>`` every ``;`` parameter belongs to the header, not the URI (RFC 3261 §20)."""
    text = value.strip(_WS)
    if not text:
        raise _fail("name-addr is empty (RFC 3261 §20.10)")
    display: str | None = None
    if text.startswith('"'):
        end = quoted_string_end(text, 0, "display name")
        display = _unescape(text[1 : end - 1])
        rest = text[end:].lstrip(_WS)
        if not rest.startswith("<"):
            raise _fail("quoted display name is not followed by <URI> (RFC 3261 §20.10 name-addr)")
    else:
        lt = text.find("<")
        if lt >= 0:
            words = text[:lt].strip(_WS)
            if words:
                for word in words.split():
                    if not TOKEN_RE.fullmatch(word):
                        raise _fail(
                            f"display name word {word[:40]!r} is not a token; it must be quoted "
                            "(RFC 3261 §25.1 display-name)"
                        )
                display = " ".join(words.split())
            rest = text[lt:]
        else:
            rest = text
    if rest.startswith("<"):
        gt = rest.find(">")
        if gt < 0:
            raise _fail("name-addr has '<' without '>' (RFC 3261 §20.10 name-addr)")
        uri = rest[1:gt].strip(_WS)
        tail = rest[gt + 1 :].strip(_WS)
        if tail and not tail.startswith(";"):
            raise _fail(f"unexpected text {tail[:30]!r} after <URI> (RFC 3261 §20.10)")
    else:
        uri, _, tail = rest.partition(";")
        uri = uri.strip(_WS)
        if any(ch in uri for ch in _WS):
            raise _fail(
                f"addr-spec {uri[:60]!r} contains whitespace; a URI with a display name "
                "must be enclosed in <> (RFC 3261 §20.10)"
            )
        tail = ";" + tail if tail else ""
        if "?" in uri or "," in uri:
            raise _fail(f"addr-spec {uri[:60]!r} with '?' or ',' must be enclosed in <> (RFC 3261 §20.10)")
    if not uri:
        raise _fail("name-addr has an empty URI (RFC 3261 §20.10)")
    if ":" not in uri:
        raise _fail(f"name-addr URI {uri[:60]!r} has no scheme (RFC 3261 §19.1.1)")
    return NameAddr(display, uri, split_params(tail, "header"))


_SENT_PROTOCOL_RE = re.compile(
    # sent-protocol = protocol-name SLASH protocol-version SLASH transport, SLASH = SWS "/" SWS
    r"\s*(?P<name>[^\s/]+)\s*/\s*(?P<version>[^\s/]+)\s*/\s*(?P<transport>[^\s/;]+)\s*"
)


# The shape nearly every Via has: "SIP/2.0/UDP host[:port]" then ";params" (with LWS left by
# unfolding). Anything else takes the general path below, which has the last word.
_VIA_COMMON_RE = re.compile(
    r"SIP/2\.0/([A-Za-z]+) ([A-Za-z0-9][A-Za-z0-9.\-]*)(?::([0-9]{1,5}))?((?:[ \t]*;[^;\"]*)*)\Z"
)


def parse_via(value: str, notes: list[str] | None = None) -> Via:
    """Parse one via-parm: ``SIP/2.0/UDP host:port;branch=...`` (RFC 3261 §20.42).
    Leniencies are appended to ``notes`` when given."""
    common = _VIA_COMMON_RE.match(value)
    if common is not None:
        transport, host, port_text, params_text = common.groups()
        port = int(port_text) if port_text is not None else None
        if port is None or port <= 65535:
            params = split_params(params_text, "Via")
            return _via(transport.upper(), host.lower(), port, params, "SIP/2.0")
    match = _SENT_PROTOCOL_RE.match(value)
    if match is None:
        raise _fail(f"Via {value[:60]!r} has no sent-protocol (RFC 3261 §20.42)")
    protocol = f"{match['name'].upper()}/{match['version']}"
    transport = match["transport"].upper()
    if not TOKEN_RE.fullmatch(transport):
        raise _fail(f"Via transport {transport[:20]!r} is not a token (RFC 3261 §20.42)")
    rest = value[match.end() :]
    sent_by, _, params_text = rest.partition(";")
    if not sent_by.strip(_WS):
        raise _fail(f"Via {value[:60]!r} has no sent-by (RFC 3261 §20.42)")
    host, port = split_host_port(sent_by, "Via sent-by", notes)
    return _via(transport, host, port, split_params(params_text, "Via"), protocol)


def _via(transport: str, host: str, port: int | None, params: dict[str, str], protocol: str) -> Via:
    rport_text = params.get("rport")
    rport = bounded_number(rport_text, 65535) if rport_text else None
    return Via(transport, host, port, params.get("branch"), params.get("received"), rport, params, protocol)
