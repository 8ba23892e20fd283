"""The user part of a SIP URI and the URI of a From/To value, fast for the plain forms.

The links across Call-IDs compare the From user and the target user of every INVITE leg of
a capture (``ladder.calls.legs``): parsing each with ``parse_name_addr`` and ``parse_uri``
builds two records with their parameter dicts to read one string. Nearly every value is
``["Name"] <sip:user@host[:port][;params]>[;tag=...]`` or ``sip:user@host``; a regex that
matches only forms the full parse accepts, and whose user it reads the same way, answers
those. Anything else (escapes, quoted parameters, IPv6, ``tel:``, other schemes, odd LWS)
takes the full parse, which has the last word. Each answer equals the full parse's
(``tests/unit/decoders/test_sipuser.py`` compares them on every capture and RFC 4475 message).
"""

from __future__ import annotations

import re

from decoders.errors import DecodeError
from decoders.sipuri import parse_name_addr, parse_uri

# RFC 3261 §25.1 token (``sipuri.TOKEN_RE``), and the plain pieces of a SIP URI. A user of
# unreserved / user-unreserved characters without "%" (``unquote`` leaves it as it is) nor
# ":" (no password); a host name or IPv4 address; a port of at most 65535 (other spellings,
# such as leading zeros, take the full parse); parameters with token names and unquoted values.
_TOKEN = r"[A-Za-z0-9\-.!%*_+`'~]+"
_PORT = r"(?:6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[0-9]{1,4})"
_PARAMS = rf"(?:;{_TOKEN}(?:=[^;?\"\s<>]*)?)*"
_PLAIN_SIP_URI = re.compile(
    rf"[ \t]*sips?:([A-Za-z0-9\-_.!~*'()&=+$,;?/]+)@([A-Za-z0-9.\-]+)(?::{_PORT})?{_PARAMS}(?:\?[^\s<>]*)?[ \t]*\Z"
)
# A sip/sips URI without "@" has no user, whether or not the rest is valid.
_NO_USER_URI = re.compile(r"[ \t]*sips?:[^@]*\Z")

# A header's own parameters after the URI: ``split_params`` of a tail without quotes, each
# piece a token name (LWS around it and an empty piece allowed) with any value.
_HEADER_PARAMS = rf"(?:[ \t]*;[ \t]*(?:{_TOKEN}[ \t]*(?:=[^;\"]*)?)?)*"
_ADDR_SPEC_PARAMS = rf"(?:[ \t]*;[ \t]*(?:{_TOKEN}[ \t]*(?:=[^;\"<]*)?)?)*"
# ``["quoted display" | token words] <URI> params``: a quoted display name without escapes.
_PLAIN_NAME_ADDR = re.compile(
    rf"[ \t]*(?:\"[^\"\\]*\"[ \t]*|(?:{_TOKEN}[ \t]+)*)<[ \t]*([^<>\"\s:]*:[^<>\"\s]*)[ \t]*>{_HEADER_PARAMS}[ \t]*\Z"
)
# A bare addr-spec: the URI up to the first ";" (without LWS, "?", "," or "<"), then params;
# no "<" anywhere (with one, ``parse_name_addr`` reads a name-addr).
_PLAIN_ADDR_SPEC = re.compile(
    rf"[ \t]*([A-Za-z][^;<>\"\s?,]*:[^;<>\"\s?,]*){_ADDR_SPEC_PARAMS}[ \t]*\Z"
)


def uri_user(text: str) -> str | None:
    """``parse_uri(text).user``, or None where that is None or empty or ``parse_uri`` raises."""
    plain = _PLAIN_SIP_URI.match(text)
    if plain is not None:
        return plain.group(1)
    if _NO_USER_URI.match(text):
        return None
    try:
        return parse_uri(text).user or None
    except DecodeError:
        return None


def uri_user_host(text: str) -> tuple[str, str] | None:
    """``(parse_uri(text).user, parse_uri(text).host)`` of a plain SIP URI (the form ``uri_user``
    answers without the full parse: its host a name or an IPv4 address, in lower case as
    ``split_host_port`` gives it); None for any other form, which ``parse_uri`` answers."""
    plain = _PLAIN_SIP_URI.match(text)
    return (plain.group(1), plain.group(2).lower()) if plain is not None else None


def name_addr_uri(value: str) -> str | None:
    """``parse_name_addr(value).uri``, or None where ``parse_name_addr`` raises."""
    plain = _PLAIN_NAME_ADDR.match(value) or _PLAIN_ADDR_SPEC.match(value)
    if plain is not None:
        return plain.group(1)
    try:
        return parse_name_addr(value).uri
    except DecodeError:
        return None
