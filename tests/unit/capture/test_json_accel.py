"""The compiled indented JSON writer (``_accel.indented_json`` in ladder/_accel.c) against the
Python one (``textsafe._indented``), its oracle: the same text for every value C takes, and
None for what it leaves to Python, so ``json_text``'s bytes never depend on the build.

Hypothesis draws values of every type C handles or refuses (unicode of every plane, control
characters, lone surrogates, big ints, float edges, tuples, subclasses, non-text keys); the real
outputs of ``calls``, ``check`` and ``export --json`` on every sample and the quick corpus are
written both ways, end to end through the CLI."""

from __future__ import annotations

import enum
import math
from collections import OrderedDict
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from ladder import textsafe

SAMPLES = sorted((Path(__file__).resolve().parents[3] / "samples").glob("*.pcap*"))

needs_c = pytest.mark.skipif(
    textsafe._c_indented is None, reason="ladder._accel is not built here (or PCAPLADDER_PURE_PYTHON is set)"
)
pytestmark = needs_c


def _python(value: object, pad: str, ascii_only: bool) -> str | None:
    parts: list[str] = []
    try:
        textsafe._indented(value, pad, parts, textsafe._encode_ascii if ascii_only else textsafe._encode_text)
    except textsafe._Unfit:
        return None
    return "".join(parts)


def _same(value: object, *, taken: bool | None = None) -> None:
    """C writes ``value`` as ``_indented`` does, or leaves it (None) where ``_indented`` cannot
    write it too or C declines; ``taken`` says which of the two is expected, when it is known."""
    assert textsafe._c_indented is not None
    for ascii_only in (True, False):
        for pad in ("", "    "):
            compiled = textsafe._c_indented(value, pad, ascii_only)
            if taken is not None:
                assert (compiled is not None) == taken, (value, compiled)
            if compiled is not None:
                assert compiled == _python(value, pad, ascii_only)


class _Flag(enum.IntEnum):
    ON = 7


class _List(list):
    pass


class _Dict(dict):
    pass


class _Text(str):
    def __str__(self) -> str:  # never used: both writers read the characters
        return "other"


scalars = (
    st.none() | st.booleans() | st.integers() | st.integers(min_value=2**63 - 2, max_value=2**200)
    | st.integers(max_value=-(2**63) + 2) | st.floats(allow_nan=True, allow_infinity=True)
    | st.text() | st.text(st.characters(max_codepoint=0x9f)) | st.text(st.characters(min_codepoint=0xd800,
                                                                                     max_codepoint=0xdfff))
    | st.text(st.characters(min_codepoint=0x10000)) | st.sampled_from([_Flag.ON, _Text("a\"b\x01"), -0.0])
)  # fmt: skip
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.tuples(inner, inner)
    | st.dictionaries(st.text(max_size=8) | st.sampled_from([_Text("k")]), inner, max_size=4),
    max_leaves=40,
)  # fmt: skip


@settings(max_examples=600, deadline=None)
@given(values)
def test_compiled_writer_is_the_python_one(value):
    _same(value, taken=True)


@pytest.mark.parametrize("value", [
    {1: "an int key"}, [{"a": {None: 1}}], {"a": {"b": {3}}}, [object()], OrderedDict(a=1), [[1], _List([2])],
    {"deep": [_Dict(x=1)]},
])  # fmt: skip
def test_what_it_leaves_to_python(value):
    """A key that is not text, an unknown type, a subclassed container (its own iteration or
    ``items`` could differ): None, and ``json_text`` writes (or refuses) it as without C."""
    _same(value, taken=False)
    assert _outcome(lambda: textsafe.json_text(value, indent=2)) == _with_c_off(
        lambda: _outcome(lambda: textsafe.json_text(value, indent=2)))


def _outcome(make):
    try:
        return make()
    except TypeError as error:  # json.dumps' own (a set, an object): the same either way
        return type(error), str(error).split(" at 0x")[0]


def _with_c_off(make):
    kept = textsafe._c_indented
    textsafe._c_indented = None
    try:
        return make()
    finally:
        textsafe._c_indented = kept


def test_hostile_values_do_not_crash_it():
    """Nesting past C's depth goes to Python (whose own limit then decides); a huge string, an
    int past the digit limit and a cycle are written or refused like the Python path."""
    deep: list = []
    for _ in range(250):
        deep = [deep]
    _same(deep, taken=False)
    assert textsafe.json_text(deep, indent=2).count("[") == 251  # the Python path wrote it
    shallow: list = []
    for _ in range(150):
        shallow = [shallow]
    _same(shallow, taken=True)
    huge = "\x00\u2028\U0001f600\ud800" * 300_000
    _same({"s": huge}, taken=True)
    big = 10 ** 5000  # past sys.get_int_max_str_digits: int.__repr__ raises
    assert textsafe._c_indented(big, "", True) is None
    with pytest.raises(ValueError):
        textsafe.json_text([big], indent=2)
    cycle: list = []
    cycle.append(cycle)
    assert textsafe._c_indented(cycle, "", True) is None
    with pytest.raises(RecursionError):
        textsafe.json_text(cycle, indent=2)
    assert textsafe._c_indented(math.nan, "", True) == "NaN"


def test_the_text_it_returns_is_not_leaked():
    """One reference, the caller's (a leak per call held every row of ``calls --json`` alive)."""
    import sys

    assert textsafe._c_indented is not None
    text = textsafe._c_indented({"a": [1, "x" * 100]}, "    ", False)
    assert sys.getrefcount(text) == 2  # ``text`` and getrefcount's argument


def _both_ways(run_ladder, *args: object):
    """The command's output with the compiled writer and without it: the same bytes."""
    compiled = run_ladder(*args)
    python = _with_c_off(lambda: run_ladder(*args))
    assert compiled == python, args
    return compiled


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda p: p.name)
def test_sample_outputs_are_the_same_either_way(run_ladder, sample, tmp_path):
    for command in (("calls", "--json"), ("check", "--json")):
        code, out, _ = _both_ways(run_ladder, *command, sample)
        assert out.startswith("{\n  ")
    outputs = []
    for name, off in (("c", False), ("py", True)):
        target = tmp_path / f"{name}.json"
        run = (lambda: run_ladder("export", "--json", target, sample))
        code, _, err = _with_c_off(run) if off else run()
        outputs.append(target.read_bytes() if target.exists() else (code, err))
    assert outputs[0] == outputs[1]


def test_corpus_outputs_are_the_same_either_way(run_ladder, corpus):
    for capture in corpus.paths:
        for command in (("calls", "--json"), ("check", "--json")):
            _both_ways(run_ladder, *command, capture)
