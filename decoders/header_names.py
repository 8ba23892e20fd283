"""SIP header names: compact forms expanded to full names, and which headers are lists.

Every module that compares header names (the parser, the first pass, anonymisation, the TUI's
highlighting) asks ``canonical_name`` here, so a compact form is expanded in one place."""

from __future__ import annotations

from decoders.memo import remember

# RFC 3261 §7.3.3 plus the compact forms other RFCs registered (RFC 3265 o/u, RFC 3515 r,
# RFC 3892 b, RFC 4028 x, RFC 3841 a/j/d, RFC 4474 y/n).
COMPACT_FORMS = {
    "i": "call-id",
    "f": "from",
    "t": "to",
    "v": "via",
    "m": "contact",
    "l": "content-length",
    "c": "content-type",
    "k": "supported",
    "s": "subject",
    "e": "content-encoding",
    "o": "event",
    "u": "allow-events",
    "r": "refer-to",
    "b": "referred-by",
    "x": "session-expires",
    "y": "identity",
    "n": "identity-info",
    "a": "accept-contact",
    "j": "reject-contact",
    "d": "request-disposition",
}

# Headers whose grammar is a comma-separated list (RFC 3261 §7.3.1: only these may be combined
# on one line). Everything else, unknown headers included (RFC 4475 §3.1.1.1), stays one opaque
# value: Authorization, WWW-Authenticate, Date and the like have commas of their own.
LIST_HEADERS = frozenset(
    {
        "via", "contact", "route", "record-route", "path", "service-route",
        "allow", "supported", "require", "proxy-require", "unsupported", "allow-events",
        "accept", "accept-encoding", "accept-language", "content-encoding", "content-language",
        "alert-info", "call-info", "error-info", "in-reply-to", "warning", "reason",
        "accept-contact", "reject-contact", "request-disposition", "history-info", "diversion",
        "p-asserted-identity", "p-preferred-identity", "p-associated-uri", "security-client",
        "security-server", "security-verify", "accept-resource-priority", "resource-priority",
        "privacy", "p-visited-network-id", "recv-info", "geolocation",
    }
)  # fmt: skip


def canonical_name(name: str) -> str:
    """The lower-case full name of a header: compact forms expanded (``i`` -> ``call-id``)."""
    key = _CANONICAL.get(name)
    if key is None:
        lower = name.lower()
        key = remember(_CANONICAL, name, COMPACT_FORMS.get(lower, lower), 1024)
    return key


# Names as asked for (``header("Contact")``): the few the code asks for, a million times a capture.
_CANONICAL: dict[str, str] = {}
