"""``textsafe.json_text`` writes an indented JSON value itself (``_indented``) rather than through
``json.dumps``' pure-Python indenting encoder: the bytes must be ``json.dumps``' own, made inert.

Hypothesis draws any JSON value (every string, float edge and nesting) and the real output of
``ladder check --json`` on a sample is written back both ways."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from ladder.textsafe import _JSON_UNSAFE, json_text, write_json_stream

SAMPLES = Path(__file__).resolve().parents[3] / "samples"


def _reference(value: object, **options) -> str:
    """What ``json_text`` wrote before it had its own encoder."""
    options.setdefault("ensure_ascii", False)
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", json.dumps(value, **options))


values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True, allow_infinity=True) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.tuples(inner, inner)
    | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=30,
)


@settings(max_examples=400, deadline=None)
@given(values, st.booleans())
def test_indented_json_is_json_dumps_byte_for_byte(value, ascii_only):
    assert json_text(value, indent=2, ensure_ascii=ascii_only) == _reference(value, indent=2, ensure_ascii=ascii_only)


@pytest.mark.parametrize("value", [
    {1: "an int key"}, {None: 1, 2.5: [True]}, {"a": {"b": {3}}}, float("nan"), [math.inf, -math.inf, -0.0],
    {"k": "a\x1b[31m\x7f\x85\x9b\u200e\u2028é中"}, "\x7f", {"": {}}, [[], {}, [[]]],
])  # fmt: skip
def test_values_it_leaves_to_json_dumps_come_out_the_same(value):
    for ascii_only in (False, True):
        try:
            expected = _reference(value, indent=2, ensure_ascii=ascii_only)
        except TypeError as error:  # a set: json.dumps' own error, not another
            with pytest.raises(TypeError, match=str(error)):
                json_text(value, indent=2, ensure_ascii=ascii_only)
        else:
            assert json_text(value, indent=2, ensure_ascii=ascii_only) == expected


def test_other_options_still_go_through_json_dumps():
    value = {"b": [1, 2], "a": "é"}
    assert json_text(value, indent=4, sort_keys=True) == _reference(value, indent=4, sort_keys=True)
    assert json_text(value) == _reference(value)


def test_streamed_check_output_of_a_sample_is_the_whole_dumped_by_json():
    """The calls of ``ladder check --json`` on a real sample, streamed item by item, are the
    bytes ``json.dumps(indent=2)`` gives of the whole document."""
    from ladder.cli.dispatch import main

    sample = SAMPLES / "rfc3665-3.2-session-through-two-proxies.pcap"
    out = io.StringIO()
    import contextlib

    with contextlib.redirect_stdout(out):
        main(["check", "--json", str(sample)])
    document = json.loads(out.getvalue())
    assert document["calls"] and document["calls"][0]["deviations"] is not None
    assert out.getvalue() == _reference(document, indent=2, ensure_ascii=True) + "\n"
    streamed = io.StringIO()
    tail = {k: v for k, v in document.items() if k not in ("file", "calls")}
    write_json_stream(streamed, {"file": document["file"]}, "calls", iter(document["calls"]), lambda: tail,
                      ensure_ascii=True)
    assert streamed.getvalue() == out.getvalue()


@pytest.mark.parametrize("count", [0, 1, 255, 256, 257, 600])
def test_a_stream_is_written_in_batches_of_the_same_bytes(count):
    """Items are joined a few hundred to a write: the text is the whole document's, on each side
    of a batch's edge, and the items made before an error are written all the same."""
    items = [{"n": n, "text": "é\x7f" if n % 7 == 0 else "a", "values": [n / 3, None]} for n in range(count)]
    streamed = io.StringIO()
    assert write_json_stream(streamed, {"file": "x"}, "calls", iter(items), lambda: {"end": True}) == count
    assert streamed.getvalue() == _reference({"file": "x", "calls": items, "end": True}, indent=2) + "\n"

    def failing():
        yield from items
        raise RuntimeError("a call that cannot be read")

    partial = io.StringIO()
    with pytest.raises(RuntimeError):
        write_json_stream(partial, {}, "calls", failing())
    whole = _reference({"calls": items}, indent=2)
    assert partial.getvalue() == (whole[: whole.rindex("\n  ]")] if items else '{\n  "calls": [')
