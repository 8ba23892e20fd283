"""The first pass over a SIP message: only the fields that count and correlate it.

``scan_sip(data) -> SipFields | None`` reads the start line and the handful of headers a call
is built from (Call-ID, CSeq, the top Via's branch and sent-by, the From and To tags,
Content-Length), without the rule checks, URI/SDP parsing or header objects of ``parse_sip``:
several times cheaper. It answers only for a plainly written message (CRLF lines, ASCII head, no
folded or repeated key header, simple name-addr and Via forms) and returns None for anything
else, so the caller falls back to ``parse_sip``; whenever it answers, every field equals the
full parser's (``tests/unit/decoders/test_sipscan.py`` checks this on the corpus and the RFC 4475 messages).
"""

from __future__ import annotations

from dataclasses import dataclass

from decoders.errors import DecodeError
from decoders.sdp import SdpSession
from decoders.header_names import canonical_name
from decoders.sip import RequestLine, _body_sdp, _parse_start

_CSEQ_MAX = 2**31 - 1
_WANTED = frozenset({"call-id", "cseq", "via", "from", "to", "content-length", "content-type"})
# Header names as written -> canonical key (lower case, compact forms expanded); bounded.
_KEYS: dict[str, str] = {}
_MAX_KEYS = 1024
_TOKEN_EXTRA = frozenset("-.!%*_+`'~")


@dataclass(frozen=True, slots=True)
class SipFields:
    """What the first pass keeps of one message; names and meanings as on ``SipMessage``."""

    is_request: bool
    method: str | None  # the request method, or the CSeq method of a response
    status: int | None
    call_id: str | None
    cseq: tuple[int, str] | None
    branch: str | None
    sent_by: str | None  # the top Via's host[:port]
    from_tag: str | None
    to_tag: str | None
    content_length: int | None
    content_type: str | None
    body: bytes

    def sdp(self) -> SdpSession | None:
        """The SDP of the body (or of its multipart SDP part), as ``SipMessage.sdp``."""
        return _body_sdp(self.body, self.content_type, [])


def _key(name: str) -> str | None:
    key = _KEYS.get(name)
    if key is None:
        bare = name.rstrip(" \t")
        if not bare or not all(c.isalnum() or c in _TOKEN_EXTRA for c in bare):
            return None
        key = canonical_name(bare)
        if len(_KEYS) >= _MAX_KEYS:
            _KEYS.clear()
        _KEYS[name] = key
    return key


def _is_token(name: str) -> bool:
    """A parameter name or Via transport ``parse_sip`` accepts (RFC 3261 §25.1 generic-param,
    §20.42: a token); it refuses the whole Via or From/To value otherwise, so the first pass must
    not answer."""
    return bool(name) and all(c.isalnum() or c in _TOKEN_EXTRA for c in name)


def _tag(value: str) -> tuple[bool, str | None]:
    """(understood, tag) of a From/To value in the plain ``[display] <uri>;params`` form."""
    if value.count("<") != 1 or value.count(">") != 1 or value.find("<") > value.find(">"):
        return False, None
    display, _, rest = value.partition("<")
    if '"' in display and (display.count('"') != 2 or display.strip()[:1] != '"' or display.strip()[-1:] != '"'):
        return False, None
    if "\\" in display:
        return False, None
    _uri, _, params = rest.partition(">")
    if params.strip(" \t") and not params.lstrip(" \t").startswith(";"):
        return False, None
    tag = None
    for param in params.split(";")[1:]:
        name, eq, text = param.partition("=")
        name = name.strip(" \t")
        if not _is_token(name) or '"' in param or " " in text.strip(" \t"):
            return False, None
        if name.lower() == "tag":
            if tag is not None or not eq:
                return False, None
            tag = text.strip(" \t")
            if not tag:
                return False, None
    return True, tag


def _via(value: str) -> tuple[bool, str | None, str | None]:
    """(understood, branch, sent-by) of the top via-parm of a plain ``SIP/2.0/UDP host:port;params``."""
    if "," in value or '"' in value or "[" in value or "(" in value:
        return False, None, None
    protocol, _, rest = value.partition(" ")
    if protocol.count("/") != 2 or protocol[:8].upper() != "SIP/2.0/" or not _is_token(protocol[8:]):
        return False, None, None
    parts = rest.strip(" \t").split(";")
    sent_by = parts[0].strip(" \t")
    host, colon, port = sent_by.partition(":")
    if not host or " " in sent_by or "\t" in sent_by or (colon and not (port.isdigit() and port.isascii()
                                                                     and 0 < int(port) < 65536 and port[0] != "0")):
        return False, None, None
    if not all(c.isalnum() or c in "-." for c in host):
        return False, None, None
    branch = None
    for param in parts[1:]:
        name, eq, text = param.partition("=")
        name = name.strip(" \t")
        if not _is_token(name) or " " in text.strip(" \t"):
            return False, None, None
        if name.lower() == "branch":
            if branch is not None or not eq or not text.strip(" \t"):
                return False, None, None
            branch = text.strip(" \t")
    return True, branch, sent_by


def scan_sip(data: bytes, *, correlation: bool = True) -> SipFields | None:
    """The first-pass fields of ``data``, or None when only ``parse_sip`` can tell (it then
    raises for a broken start line, or reports the oddity as a problem). ``correlation=False``
    leaves the Via and From/To tags unread (None): counting needs only the rest."""
    if not data or data[0] in (0x0D, 0x0A):
        return None
    end = data.find(b"\r\n\r\n")
    if end < 0:
        return None
    head = data[:end]
    if not head.isascii() or head.count(b"\n") != head.count(b"\r\n"):
        return None
    lines = head.decode("ascii").split("\r\n")
    try:
        start = _parse_start(lines[0], [])
    except DecodeError:
        return None
    values: dict[str, str] = {}
    key: str | None = None
    kept = False  # whether the current header line's value is the one kept for its key
    for line in lines[1:]:
        if line[:1] in (" ", "\t"):
            if kept and key is not None:  # LWS continuation (RFC 3261 §7.3.1): unfold with one SP
                text = line.strip(" \t")
                values[key] = f"{values[key]} {text}" if values[key] else text
            continue
        name, colon, value = line.partition(":")
        if not colon:
            return None
        key = _KEYS.get(name) or _key(name)
        if key is None:
            return None
        kept = False
        if key in _WANTED:
            if key in values:
                if key == "via":
                    continue  # only the top Via counts here (proxies add one each)
                return None  # repeated: the full parser says which value counts
            values[key] = value.strip(" \t")
            kept = True
    cseq = None
    cseq_text = values.get("cseq")
    if cseq_text is not None:
        number, _, method = cseq_text.strip().partition(" ")
        method = method.strip(" \t")
        if not (number.isdigit() and number.isascii() and len(number) <= 10 and method
                and all(c.isalnum() or c in _TOKEN_EXTRA for c in method)) or int(number) > _CSEQ_MAX:
            return None
        cseq = (int(number), method)
    length_text = values.get("content-length")
    if length_text is None or not (length_text.isdigit() and length_text.isascii()) or len(length_text) > 9:
        return None
    content_length = int(length_text)
    rest = data[end + 4:]
    if len(rest) != content_length:
        return None  # short or trailing bytes: the full parser reports which
    from_tag: str | None = None
    to_tag: str | None = None
    branch: str | None = None
    sent_by: str | None = None
    for key in ("from", "to") if correlation else ():
        if key in values:
            understood, tag = _tag(values[key])
            if not understood:
                return None
            if key == "from":
                from_tag = tag
            else:
                to_tag = tag
    if correlation and "via" in values:
        understood, branch, sent_by = _via(values["via"])
        if not understood:
            return None
    status: int | None = None
    named: str | None  # the request's method, or the CSeq method of a response
    if isinstance(start, RequestLine):
        is_request, named = True, start.method
    else:
        is_request, named, status = False, (cseq[1] if cseq else None), start.code
    return SipFields(
        is_request=is_request,
        method=named,
        status=status,
        call_id=values.get("call-id"),
        cseq=cseq,
        branch=branch,
        sent_by=sent_by,
        from_tag=from_tag,
        to_tag=to_tag,
        content_length=content_length,
        content_type=values["content-type"].strip() if "content-type" in values else None,
        body=rest,
    )
