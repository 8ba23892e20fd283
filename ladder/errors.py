"""Errors of the core layer. Decoding errors live in ``decoders.errors``."""


class CaptureError(Exception):
    """A file-level problem: no capture at all, an unreadable file. The message is one line
    fit for ``ladder: error: …``."""


class UsageError(Exception):
    """A command line that cannot be carried out (a call number that does not exist, say)."""
