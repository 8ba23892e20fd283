"""Numbers from untrusted text."""


def bounded_number(text: str, maximum: int) -> int | None:
    """``1*DIGIT`` (ASCII only) as an int if it is at most ``maximum``, else None.

    Never hands a long digit run to ``int()``: Python refuses more than 4300 digits, and a
    hostile header or SDP line can be any length."""
    if not text or not text.isascii() or not text.isdigit():
        return None
    if len(text) <= 18:  # the usual case: fits a machine word, int() is cheap and safe
        value = int(text)
        return value if value <= maximum else None
    significant = text.lstrip("0")
    if len(significant) > len(str(maximum)):
        return None
    value = int(significant or "0")
    return value if value <= maximum else None
