"""The decoder error hierarchy. "Need more data" is a return value, never one of these."""


class DecodeError(ValueError):
    """Bytes that cannot be decoded as the protocol they claim to be.

    ``reason`` is a stable kebab-case code (counted in ``ladder stats`` diagnostics);
    the message says precisely what was wrong, citing the RFC rule where one applies.
    """

    reason = "decode-error"

    def __init__(self, message: str, reason: str | None = None):
        super().__init__(message)
        if reason is not None:
            self.reason = reason


class Truncated(DecodeError):
    """The bytes end before the structure they announce."""

    reason = "truncated"


class Malformed(DecodeError):
    """The bytes break the protocol's grammar."""

    reason = "malformed"


class Unsupported(DecodeError):
    """Valid, but a variant we do not decode (an unknown link type, say)."""

    reason = "unsupported"
