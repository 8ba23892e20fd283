"""Anonymisation: consistent replacement of what identifies people and networks in a capture.

``Anonymizer`` maps IP addresses, SIP user parts and numbers, host names, display names, tags,
Call-IDs, branches and digest credentials (username, realm, nonce, cnonce, response, opaque)
to stand-ins. The mapping is keyed (HMAC-SHA256): one key gives the same stand-ins in every
output of a run (text, HTML, Mermaid, JSON, pcap) and across runs (``--anonymize-key``); a
fresh random key makes the stand-ins unlinkable to the originals. ``learn`` sees every
original first so no stand-in can ever equal an original value.

Rewriting happens on the SIP message text, then the message is parsed again, so every
renderer draws the anonymised call from the same model (no renderer anonymises on its own).
Two passes: a structural one that knows where user parts, display names, tags, digest
parameters, Via sent-by and SDP o=/c= values sit, then a literal one that replaces long
learned values (Call-IDs, tags, dotted host names) wherever else they occur (Replaces,
Warning, X- headers, free text).
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import ipaddress
import os
import re
from typing import Any, Callable, TYPE_CHECKING

from decoders.errors import DecodeError
from decoders.records import Diagnostic, Endpoint
from decoders.header_names import canonical_name
from decoders.sip import SipMessage, parse_sip

if TYPE_CHECKING:
    from ladder.media.streams import RtpStream
    from ladder.capture.loader import Capture

# Addresses that say nothing about anyone and carry meaning (SDP hold, loopback, broadcast).
_KEEP_IPS = frozenset({"0.0.0.0", "127.0.0.1", "255.255.255.255", "::", "::1"})
# Stand-in IPv4 addresses come from 198.18.0.0/15 (RFC 2544 benchmarking, never routed);
# IPv6 ones from fd00::/8 (RFC 4193 unique local).
_V4_BASE = int(ipaddress.IPv4Address("198.18.0.0"))
_V4_SIZE = 1 << 17
_STAND_IN_DOMAIN = "invalid"  # RFC 6761: a name that can never resolve
_WIDEN_AFTER = 32  # collisions before a stand-in gets longer than its original
_LITERAL_MIN = 6  # shorter learned values are only replaced where their context says what they are

_TOKEN_PARAMS = frozenset({"tag", "ftag", "totag", "from-tag", "to-tag", "nonce", "cnonce", "opaque",
                           "response", "rspauth", "nextnonce", "call-id", "sid"})
_HOST_PARAMS = frozenset({"received", "maddr", "sent-by", "domain", "phone-context"})
_PARAM_NAMES = "|".join(sorted(_TOKEN_PARAMS | _HOST_PARAMS | {"branch", "username", "realm", "uri"},
                               key=len, reverse=True))

# One alternation, scanned left to right: at a given position the first alternative wins.
_SCAN_RE = re.compile(
    r"(?P<qdisp>\"(?:[^\"\\\r\n]|\\.)*\")(?=[ \t]*<)"
    r"|(?:^[ \t]*)(?P<qlead>\"(?:[^\"\\\r\n]|\\.)*\")(?=[^=]*$)"
    r"|(?P<udisp>(?:^|(?<=,))[ \t]*[^\s\",<;:=][^\",<;:=\r\n]*?)(?=[ \t]*<)"
    r"|(?P<uri>(?<![\w.+-])(?i:sips?|tel|pres|im):[^\s<>\",]+)"
    r"|(?P<param>(?<![\w-])(?i:" + _PARAM_NAMES + r"))[ \t]*=[ \t]*"
    r"(?P<pval>\"(?:[^\"\\\r\n]|\\.)*\"|[^\s;,>\"?&]+)"
    r"|(?P<via>SIP/2\.0/[A-Za-z]+[ \t]+)(?P<vhost>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+)"
    r"|(?P<v4>(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?![\w]|\.\d))"
    r"|(?P<v6>(?<![\w:.])\[?[0-9A-Fa-f]{0,4}:[0-9A-Fa-f:.]*:[0-9A-Fa-f.]*\]?)"
    r"|(?P<secret>(?i:inline:|a=ice-ufrag:|a=ice-pwd:))(?P<sval>[^\s|]+)"
    # Long hex runs with letters and digits (nonces, hashes, IDs in odd or broken places);
    # all-digit runs are left alone: SDP session ids and CSeq numbers must stay numbers.
    r"|(?P<hexrun>(?<![\w])(?=[0-9a-fA-F]*[a-fA-F])(?=[0-9a-fA-F]*[0-9])[0-9a-fA-F]{16,}(?![\w]))"
)
_HEADER_RE = re.compile(r"([!%*+.0-9A-Z_`a-z~'-]+)([ \t]*:[ \t]*)(.*)", re.DOTALL)
_NUMBER_RE = re.compile(r"\+?[0-9*#][0-9*#().\- ]*")
_HOSTNAME_RE = re.compile(r"[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.?")
_CONTENT_LENGTH_RE = re.compile(r"^((?:Content-Length|l)[ \t]*:[ \t]*)\d+", re.IGNORECASE | re.MULTILINE)


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _unquote(value: str) -> tuple[str, str]:
    """(inner text, quote character or "")."""
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1], '"'
    return value, ""


class Anonymizer:
    """Keyed, consistent stand-ins. ``key=None`` draws a random key (unlinkable output)."""

    def __init__(self, key: bytes | str | None = None) -> None:
        if key is None:
            key = os.urandom(32)
        self._key = key.encode("utf-8") if isinstance(key, str) else bytes(key)
        self._maps: dict[str, dict[str, str]] = {}
        self._used: set[str] = set()
        self._originals: set[str] = set()
        self._learned: dict[str, str] = {}  # literal -> kind, for the second pass
        self._literal_re: re.Pattern[str] | None = None
        self._folded: dict[str, str] = {}
        self.reparse_failures = 0

    # --- stand-ins ------------------------------------------------------------------------
    def _digest(self, kind: str, value: str, attempt: int) -> bytes:
        data = f"{kind}\0{value}\0{attempt}".encode("utf-8", "surrogateescape")
        return hmac.new(self._key, data, hashlib.sha256).digest()

    def _stand_in(self, kind: str, value: str, make: Callable[[bytes], str], fold: bool = False,
                  widen: bool = True) -> str:
        """The stand-in for ``value``: made once, never an original, never another's.
        ``widen=False`` for stand-ins that must keep their shape (addresses)."""
        key = value.lower() if fold else value
        table = self._maps.setdefault(kind, {})
        found = table.get(key)
        if found is not None:
            return found
        attempt = 0
        while True:
            digest = self._digest(kind, key, attempt)
            candidate = make(digest)
            if widen and attempt >= _WIDEN_AFTER:
                # A small space (a two-digit number) can run out: widen it with more digits.
                candidate += str(int.from_bytes(digest[:4], "big") % 10 ** (2 + attempt // _WIDEN_AFTER))
            probe = candidate.lower()
            if probe not in self._originals and probe not in self._used:
                break
            attempt += 1
        self._used.add(probe)
        table[key] = candidate
        return candidate

    def ip(self, value: str) -> str:
        """Same family; v4 in 198.18.0.0/15, v6 in fd00::/8; unspecified/loopback kept."""
        try:
            address = ipaddress.ip_address(value)
        except ValueError:
            return self.host(value)
        text = str(address)
        if text in _KEEP_IPS:
            return value
        if address.version == 4:
            def make(d: bytes) -> str:
                n = int.from_bytes(d[:4], "big") % _V4_SIZE
                if n & 0xFF in (0, 255):  # no network or broadcast look-alikes
                    n ^= 0x01
                return str(ipaddress.IPv4Address(_V4_BASE + n))
        else:
            def make(d: bytes) -> str:
                return str(ipaddress.IPv6Address(b"\xfd" + d[:15]))
        return self._stand_in("ip", text, make, widen=False)

    def host(self, value: str) -> str:
        """An IP (bracketed IPv6 too) or a host name; names become ``h-xxxxxxxx.invalid``."""
        if not value:
            return value
        if value.startswith("[") and value.endswith("]"):
            inner = value[1:-1]
            return f"[{self.ip(inner)}]" if _is_ip(inner) else value
        if _is_ip(value):
            return self.ip(value)
        return self._stand_in("host", value.rstrip("."), lambda d: f"h-{d[:4].hex()}.{_STAND_IN_DOMAIN}",
                              fold=True)

    def number(self, value: str) -> str:
        """Digits replaced by digits (same length, same separators and leading +)."""
        digits = sum(ch.isdigit() for ch in value)
        if digits == 0:
            return value

        def make(d: bytes) -> str:
            stream = iter(int.from_bytes(d, "big").to_bytes(32, "big").hex())
            out = []
            for ch in value:
                if ch.isdigit():
                    out.append(str(int(next(stream), 16) % 10))
                else:
                    out.append(ch)
            return "".join(out)

        return self._stand_in("number", value, make)

    def user(self, value: str) -> str:
        """A SIP user part: numbers stay numbers, names become ``userxxxxxx``."""
        if not value:
            return value
        if _NUMBER_RE.fullmatch(value):
            return self.number(value)
        # No separator after the prefix: an original user part "user" must not match a stand-in.
        return self._stand_in("user", value, lambda d: f"user{d[:3].hex()}", fold=True)

    def display(self, value: str) -> str:
        if not value.strip():
            return value
        return self._stand_in("display", value.strip(), lambda d: f"Person {d[:2].hex().upper()}")

    def token(self, value: str, kind: str = "token") -> str:
        """Opaque identifiers (tags, nonces, Call-IDs): lower-case hex, at least 8 characters."""
        if not value:
            return value
        size = min(max(len(value), 8), 64)
        return self._stand_in(kind, value, lambda d: (d + self._digest(kind, value, -1)).hex()[:size])

    def same_length(self, value: str) -> str:
        """A stand-in of exactly ``len(value)`` characters (RTCP SDES items keep their framing)."""
        if not value:
            return value
        return self._stand_in("fixed", value, lambda d: (d.hex() * (len(value) // 64 + 1))[: len(value)])

    def endpoint(self, endpoint: Endpoint | None) -> Endpoint | None:
        if endpoint is None:
            return None
        return Endpoint(self.ip(endpoint.ip), endpoint.port, endpoint.transport)

    # --- learning the originals -------------------------------------------------------------
    def learn_message(self, message: SipMessage) -> None:
        """Record every original value of ``message`` (before any stand-in is made)."""
        head, _sep, body = _split_message(message.raw.decode("utf-8", "surrogateescape"))
        self._rewrite_head(head, self._collect)
        self._rewrite_body(body, self._collect)
        for endpoint in (message.src, message.dst):
            if endpoint is not None:
                self._originals.add(endpoint.ip.lower())
        if message.call_id:
            self._remember(message.call_id, "callid")
        self._literal_re = None

    def learn_value(self, value: str) -> None:
        """An original seen outside SIP text (a stream address, an RTCP CNAME)."""
        if value:
            self._originals.add(value.lower())

    def _remember(self, value: str, kind: str) -> None:
        value = value.strip()
        if not value:
            return
        self._originals.add(value.lower())
        if len(value) < _LITERAL_MIN or kind not in ("callid", "token", "host", "user", "number", "display"):
            return
        if kind == "host" and "." not in value:
            return
        if value.isdigit() and len(value) < 8:
            return  # could be a CSeq, a port, a session id: only replaced in context
        self._learned.setdefault(value, kind)

    def _collect(self, kind: str, value: str) -> str:
        if kind == "host" and _is_ip(value.strip("[]")):
            kind = "ip"
        if kind == "user" and _NUMBER_RE.fullmatch(value):
            kind = "number"
        self._remember(value, kind)
        return value

    def _apply(self, kind: str, value: str) -> str:
        if kind == "ip":
            return self.ip(value)
        if kind == "host":
            return self.host(value)
        if kind == "user":
            return self.user(value)
        if kind == "number":
            return self.number(value)
        if kind == "display":
            return self.display(value)
        if kind == "callid":
            return self.token(value, "callid")
        return self.token(value)

    # --- rewriting ------------------------------------------------------------------------------
    def text(self, text: str) -> str:
        """Free text (a note, a diagnostic, a header value): both passes."""
        return self._literal_pass(self._rewrite_text(text, self._apply))

    def message(self, message: SipMessage) -> SipMessage:
        """The message with its text anonymised and parsed again, addresses mapped, frames kept.
        Raises ``DecodeError`` when the rewritten text no longer parses (counted by the caller)."""
        head, sep, body = _split_message(message.raw.decode("utf-8", "surrogateescape"))
        new_head = self._rewrite_head(head, self._apply)
        new_body = self._rewrite_body(body, self._apply)
        body_bytes = new_body.encode("utf-8", "surrogateescape")
        if message.content_length is not None:
            new_head = _CONTENT_LENGTH_RE.sub(lambda m: f"{m.group(1)}{len(body_bytes)}", new_head)
        raw = (new_head + sep).encode("utf-8", "surrogateescape") + body_bytes
        parsed = parse_sip(raw)
        return parsed.with_context(self.endpoint(message.src), self.endpoint(message.dst),
                                   message.frames, message.ts_ns)

    def _rewrite_head(self, head: str, apply: Callable[[str, str], str]) -> str:
        """Start line and header values; header names are never touched."""
        finish = self._literal_pass if apply == self._apply else (lambda text: text)
        lines = re.split(r"(\r?\n)", head)
        out = []
        for index, line in enumerate(lines):
            if index % 2:
                out.append(line)
                continue
            match = _HEADER_RE.fullmatch(line) if index else None
            if match is None:  # the start line, or a folded continuation
                out.append(finish(self._rewrite_text(line, apply)))
            elif canonical_name(match.group(1)) == "call-id":
                out.append(match.group(1) + match.group(2) + apply("callid", match.group(3).strip()))
            else:
                out.append(match.group(1) + match.group(2) + finish(self._rewrite_text(match.group(3), apply)))
        return "".join(out)

    def _rewrite_body(self, body: str, apply: Callable[[str, str], str]) -> str:
        if not body:
            return body
        finish = self._literal_pass if apply == self._apply else (lambda text: text)
        lines = re.split(r"(\r?\n)", body)
        return "".join(line if index % 2 else finish(self._sdp_line(line, apply))
                       for index, line in enumerate(lines))

    def _sdp_line(self, line: str, apply: Callable[[str, str], str]) -> str:
        """o= (username, address) and c= (address, FQDN too) by position; the rest scanned."""
        if line.startswith("o="):
            fields = line[2:].split(" ")
            if len(fields) == 6:
                if fields[0] != "-":
                    fields[0] = apply("user", fields[0])
                fields[5] = apply("host", fields[5])
                return "o=" + " ".join(fields)
        if line.startswith("c="):
            fields = line[2:].split(" ")
            if len(fields) == 3:
                address, slash, rest = fields[2].partition("/")
                fields[2] = apply("host", address) + slash + rest
                return "c=" + " ".join(fields)
        return self._rewrite_text(line, apply)

    def _rewrite_text(self, text: str, apply: Callable[[str, str], str]) -> str:
        """The structural pass over one line or value; ``apply(kind, original)`` gives the
        replacement (or records the original while learning)."""

        def replace(match: re.Match[str]) -> str:
            group = match.lastgroup
            whole = match.group(0)
            if group in ("qdisp", "qlead"):
                # A quoted display name (even when a broken message has no <uri> after it).
                quoted = match.group(group)
                lead = whole[: len(whole) - len(quoted)]
                inner = quoted[1:-1]
                return f'{lead}"{apply("display", inner)}"' if inner.strip() else whole
            if group == "udisp":
                lead = whole[: len(whole) - len(whole.lstrip(" \t"))]
                name = whole.strip()
                return f'{lead}"{apply("display", name)}"' if name else whole
            if group == "uri":
                return self._uri(whole, apply)
            if group == "pval":
                return self._param(match, apply)
            if group == "vhost":
                return match.group("via") + apply("host", match.group("vhost"))
            if group == "v4":
                return apply("ip", whole) if _is_ip(whole) else whole
            if group == "v6":
                inner = whole.strip("[]")
                if not _is_ip(inner):
                    return whole
                return whole.replace(inner, apply("ip", inner))
            if group == "sval":
                return match.group("secret") + apply("token", match.group("sval"))
            if group == "hexrun":
                return apply("token", whole)
            return whole

        return _SCAN_RE.sub(replace, text)

    def _param(self, match: re.Match[str], apply: Callable[[str, str], str]) -> str:
        name = match.group("param")
        raw_value = match.group("pval")
        prefix = match.group(0)[: match.start("pval") - match.start(0)]
        value, quote = _unquote(raw_value)
        lower = name.lower()
        if lower == "uri":
            new = self._rewrite_text(value, apply)
        elif lower == "branch":
            cookie = "z9hG4bK" if value.startswith("z9hG4bK") else ""
            rest = value[len(cookie):]
            new = cookie + (apply("token", rest) if rest else "")
        elif lower == "username":
            new = apply("user", value)
        elif lower == "realm":  # a domain ("atlanta.com") or a bare word ("Huawei", "asterisk")
            new = apply("host", value) if "." in value and _HOSTNAME_RE.fullmatch(value) else apply("token", value)
        elif lower in _HOST_PARAMS:
            if _HOSTNAME_RE.fullmatch(value) or _is_ip(value.strip("[]")):
                new = apply("host", value)
            else:  # domain="sip:example.com" (RFC 2617 domain is a URI list)
                new = self._rewrite_text(value, apply)
        else:
            new = apply("token", value)
        return f"{prefix}{quote}{new}{quote}"

    def _uri(self, text: str, apply: Callable[[str, str], str]) -> str:
        """sip/sips/pres/im: user (and password) and host; tel: the number; params scanned."""
        scheme, _, rest = text.partition(":")
        if scheme.lower() == "tel":
            number, semi, params = rest.partition(";")
            return f"{scheme}:{apply('number', number)}{semi}{self._rewrite_text(params, apply) if params else ''}"
        userinfo = ""
        at = rest.find("@")
        if at >= 0:
            userinfo, rest = rest[:at], rest[at + 1:]
        if rest.startswith("["):
            close = rest.find("]")
            host, tail = (rest[: close + 1], rest[close + 1:]) if close > 0 else (rest, "")
        else:
            cut = re.search(r"[:;?]", rest)
            host, tail = (rest[: cut.start()], rest[cut.start():]) if cut else (rest, "")
        out = scheme + ":"
        if userinfo:
            user, colon, password = userinfo.partition(":")
            user_main, semi, user_params = user.partition(";")
            out += apply("user", user_main) + semi + user_params
            if colon:
                out += colon + apply("token", password)
            out += "@"
        out += apply("host", host) if host else ""
        return out + (self._rewrite_text(tail, apply) if tail else "")

    def _literal_pass(self, text: str) -> str:
        """Long learned values wherever they remain (Replaces, Warning, X- headers ...)."""
        if not self._learned:
            return text
        if self._literal_re is None:
            literals = sorted(self._learned, key=len, reverse=True)
            self._literal_re = re.compile(
                r"(?<![A-Za-z0-9])(?:" + "|".join(re.escape(v) for v in literals) + r")(?![A-Za-z0-9])",
                re.IGNORECASE)
            self._folded = {v.lower(): kind for v, kind in self._learned.items()}
        folded = self._folded

        def replace(match: re.Match[str]) -> str:
            value = match.group(0)
            kind = self._learned.get(value) or folded.get(value.lower(), "token")
            return self._apply(kind, value)

        return self._literal_re.sub(replace, text)


def _split_message(text: str) -> tuple[str, str, str]:
    """(head, blank-line separator, body); bare-LF messages too."""
    match = re.search(r"\r?\n\r?\n", text)
    if match is None:
        return text, "", ""
    return text[: match.start()], match.group(0), text[match.end():]


def anonymize_stream(anonymizer: Anonymizer, stream: "RtpStream") -> "RtpStream":
    """An ``RtpStream`` with its addresses and RTCP CNAME replaced."""
    changes: dict[str, Any] = {"src": anonymizer.endpoint(stream.src), "dst": anonymizer.endpoint(stream.dst)}
    rtcp = getattr(stream, "rtcp", None)
    if rtcp is not None and rtcp.cname:
        changes["rtcp"] = dataclasses.replace(rtcp, cname=anonymizer.same_length(rtcp.cname))
    return dataclasses.replace(stream, **changes)


ANONYMIZED_PATH = "anonymized-capture"


def anonymize_capture(capture: "Capture", anonymizer: Anonymizer) -> "Capture":
    """A copy of ``capture`` whose SIP messages, streams, diagnostics and errors are anonymised.

    A message whose rewritten text no longer parses is left out and counted under the
    diagnostic ``anonymize-reparse-failed`` (its original would leak otherwise)."""
    for message in capture.sip_messages:
        anonymizer.learn_message(message)
    for stream in capture.streams:
        anonymizer.learn_value(stream.src.ip)
        anonymizer.learn_value(stream.dst.ip)
        rtcp = getattr(stream, "rtcp", None)
        if rtcp is not None and rtcp.cname:
            anonymizer.learn_value(rtcp.cname)
    messages = []
    diagnostics = dict(capture.diagnostics)
    details: list[Diagnostic] = []
    for message in capture.sip_messages:
        try:
            messages.append(anonymizer.message(message))
        except DecodeError as exc:
            anonymizer.reparse_failures += 1
            diagnostics["anonymize-reparse-failed"] = diagnostics.get("anonymize-reparse-failed", 0) + 1
            frame = message.frames[0].number if message.frames else 0
            details.append(Diagnostic("anonymize-reparse-failed", frame, f"left out: {exc.reason}"))
    path = capture.path

    def scrub(text: str) -> str:
        return anonymizer.text(text.replace(path, ANONYMIZED_PATH)) if path else anonymizer.text(text)

    details = [dataclasses.replace(d, detail=scrub(d.detail)) for d in capture.diagnostic_list] + details
    return dataclasses.replace(
        capture,
        path=ANONYMIZED_PATH,
        sip_messages=messages,
        streams=[anonymize_stream(anonymizer, s) for s in capture.streams],
        diagnostics=diagnostics,
        diagnostic_list=details,
        errors=[scrub(e) for e in capture.errors],
    )
