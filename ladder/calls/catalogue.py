"""``CallCatalogue``: the calls of a capture loaded with ``locate=True`` (messages in the file,
``ladder.capture.messagestore``), held as where each call's messages are, and each call rebuilt
from them, fully parsed, when asked: what a viewer (the TUI) needs to list a million-message
capture and open any one call in memory bounded by the index.

``fill`` walks ``ladder.calls.bounded.iter_call_rows`` once: the consumer's summary of each call
(a call-list row) is yielded as it comes, and the catalogue keeps of the call only its message
numbers (4 bytes each, in one column for every call), plus, for the few calls that have them,
its other Call-IDs, its capture copies and the links across Call-IDs ``build_call`` is given.
``call(key)`` reads those messages back, parses them and builds the call again
(``build_call``, as ``ladder check`` rebuilds its calls), keeping the last few built.
``tests/unit/calls/test_catalogue.py`` shows the rebuilt call equals ``build_calls``' on the
samples and the corpus.
"""

from __future__ import annotations

from array import array
from collections import OrderedDict
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Callable, TypeVar

from ladder.calls.bounded import iter_call_rows
from ladder.calls.grouping import Call, build_call
from ladder.calls.legs import Link, proxy_links
from ladder.calls.simple_calls import Members

if TYPE_CHECKING:
    from ladder.capture.loader import Capture

T = TypeVar("T")
CACHED_CALLS = 32  # calls kept built: the ladders a user goes back and forth between


def _where(call: Call) -> tuple:
    """What ``CallCatalogue.call`` needs to build ``call`` again, in ``marshal``'s types (the
    row spill of ``iter_call_rows`` writes it): its messages' numbers in the store, then, when
    there are any, its capture copies (position of the kept message, numbers of its copies),
    its links across Call-IDs (``build_call`` adds the legs' own), its Call-IDs and kind."""
    stored: Any = call.messages  # ``StoredMessage``s: their ``index`` says where they are
    if isinstance(stored, Members):  # a simple call's (``ladder.calls.simple_calls``): the numbers
        numbers = stored.numbers.tobytes()
    else:
        numbers = array("I", (m.index for m in stored)).tobytes()
    copied: dict[int, Any] = call.copies
    copies: tuple = ()
    if copied:
        position = {id(m): p for p, m in enumerate(stored)}
        copies = tuple((position[kept], tuple(c.index for c in found)) for kept, found in copied.items())
    given = tuple((link.call_id_a, link.call_id_b, link.reason) for link in call.links[len(proxy_links(call.legs)):])
    return numbers, copies, given, call.call_ids, call.kind


class CallCatalogue:
    """Every call of one capture by key (``Call.id``): where its messages are, and the call
    rebuilt on demand (``call``) with a bounded cache."""

    def __init__(self, capture: "Capture", cached: int = CACHED_CALLS) -> None:
        self.capture = capture
        self._store = capture.located_store()
        self._number: dict[str, int] = {}  # key -> position (the call's index - 1)
        self._starts = array("I", [0])  # the messages of call p: _members[_starts[p]:_starts[p + 1]]
        self._members = array("I")
        self._kinds: list[str] = []  # the few kinds (call, registration, ...) by a 1-byte code
        self._kind_codes = array("B")
        self._rare: dict[int, tuple] = {}  # position -> (copies, links, call_ids) when any is not plain
        self._built: OrderedDict[str, Call] = OrderedDict()
        self._cached = cached
        self.rebuilt = 0  # calls built again from their messages (for tests and benchmarks)

    def __len__(self) -> int:
        return len(self._number)

    def __contains__(self, key: object) -> bool:
        return key in self._number

    def keys(self) -> Iterator[str]:
        return iter(self._number)

    def fill(self, summary: Callable[[Call], T], numbered: Callable[[T, int], T]) -> Iterator[T]:
        """``summary(call)`` of each call in ``build_calls``' order, yielded as made, each call
        kept only as where its messages are. ``numbered(summary, n)`` gives a summary made of
        the call numbered 0 its number (``iter_call_rows`` makes most in its pass 2)."""
        def row(call: Call) -> tuple:
            return summary(call), _where(call)

        def renumbered(made: tuple, number: int) -> tuple:
            return numbered(made[0], number), made[1]

        for made, where in iter_call_rows(self.capture, row, renumbered):
            self._keep(where)
            yield made

    def hold(self, call: Call) -> None:
        """Keep where ``call``'s messages are, as ``fill`` keeps each (for a consumer that walks
        ``iter_calls`` itself: ``ladder check`` binding media over every call first)."""
        self._keep(_where(call))

    def _keep(self, where: tuple) -> None:
        numbers, copies, given, call_ids, kind = where
        position = len(self._number)
        self._number[call_ids[0]] = position
        self._members.frombytes(numbers)
        self._starts.append(len(self._members))
        code = self._kinds.index(kind) if kind in self._kinds else len(self._kinds)
        if code == len(self._kinds):
            self._kinds.append(kind)
        self._kind_codes.append(code)
        if copies or given or len(call_ids) > 1:
            self._rare[position] = (copies, given, tuple(call_ids))

    def message_numbers(self, key: str) -> array:
        """The store's numbers of the messages of call ``key``, in the call's order."""
        p = self._number[key]
        return self._members[self._starts[p]:self._starts[p + 1]]

    def call(self, key: str) -> Call:
        """Call ``key`` built again from its messages, read back and fully parsed (the last
        ``cached`` asked for are kept)."""
        built = self._built.get(key)
        if built is not None:
            self._built.move_to_end(key)
            return built
        built = self._built[key] = self.build(key)
        if len(self._built) > self._cached:
            self._built.popitem(last=False)
        return built

    def build(self, key: str) -> Call:
        """``call(key)`` made afresh and not kept (a pass over every call: a checker)."""
        p = self._number[key]
        parsed = self._store.parsed
        messages = [parsed(i) for i in self.message_numbers(key)]
        copies_of, given, call_ids = self._rare.get(p, ((), (), (key,)))
        copies = {id(messages[at]): tuple(parsed(i) for i in found) for at, found in copies_of}
        links = [Link(a, b, reason) for a, b, reason in given]
        self.rebuilt += 1
        return build_call(p + 1, list(call_ids), messages, self._kinds[self._kind_codes[p]], links, None, copies)
