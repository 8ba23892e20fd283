"""``quick_init``: a frozen slotted dataclass made by a cheaper ``__init__`` of the same meaning.

A frozen dataclass's generated ``__init__`` stores each field with ``object.__setattr__(self,
name, value)`` (its own ``__setattr__`` refuses): a global look-up, an attribute look-up and a
generic attribute store by name, per field. The records made once per message or arrow
(``SipMessage``, ``FrameRef``, ``Arrow``, ``Observed`` ...) spent about a seventh of ``ladder
check`` there. The ``__init__`` made here stores each field through its slot's own descriptor
(``Cls.field.__set__``, bound once), which is what ``object.__setattr__`` ends in for a slot, so
the object made is the same: the same parameters in the same order with the same defaults, a
``default_factory`` called once per object as the dataclass does, fields with ``init=False`` given
their default, then ``__post_init__``. It takes what the classes here use; a class with
``InitVar`` or keyword-only fields, or without slots, is refused (``TypeError``) rather than
given a different ``__init__``. ``tests/unit/decoders/test_quick_init.py`` builds the real
records both ways and compares every slot.
"""

from __future__ import annotations

import dataclasses
import inspect
from typing import Any, TypeVar

C = TypeVar("C", bound=type)

_FACTORY = object()  # the default of a parameter whose field has a ``default_factory``


def quick_init(cls: C) -> C:
    """Give ``cls`` (a ``@dataclass(frozen=True, slots=True)``) the quicker ``__init__``;
    its generated one stays reachable as ``cls.__init__.dataclass_init`` (for the tests)."""
    if not dataclasses.is_dataclass(cls) or "__slots__" not in cls.__dict__:
        raise TypeError(f"{cls.__name__}: quick_init needs a slotted dataclass")
    wanted = [f.name for f in dataclasses.fields(cls) if f.init]
    if list(inspect.signature(cls.__init__).parameters)[1:] != wanted:  # an InitVar is a parameter too
        raise TypeError(f"{cls.__name__}: quick_init takes only the parameters of fields")
    names: dict[str, Any] = {"_FACTORY": _FACTORY}
    params: list[str] = ["self"]
    body: list[str] = []
    for n, field in enumerate(dataclasses.fields(cls)):
        if field.kw_only:
            raise TypeError(f"{cls.__name__}: quick_init takes no keyword-only fields")
        store = f"_set{n}"
        names[store] = cls.__dict__[field.name].__set__
        has_default = field.default is not dataclasses.MISSING
        has_factory = field.default_factory is not dataclasses.MISSING
        if has_default:
            names[f"_default{n}"] = field.default
        if has_factory:
            names[f"_factory{n}"] = field.default_factory
        if field.init:
            arg = f"a{n}"
            if has_default:
                params.append(f"{field.name}=_default{n}")
            elif has_factory:
                params.append(f"{field.name}=_FACTORY")
            else:
                params.append(field.name)
            body.append(f"    {arg} = {field.name}")
            if has_factory:
                body.append(f"    if {arg} is _FACTORY: {arg} = _factory{n}()")
            body.append(f"    {store}(self, {arg})")
        elif has_default:
            body.append(f"    {store}(self, _default{n})")
        elif has_factory:
            body.append(f"    {store}(self, _factory{n}())")
    if hasattr(cls, "__post_init__"):
        body.append("    self.__post_init__()")
    if "self" in params[1:]:
        raise TypeError(f"{cls.__name__}: quick_init takes no field named self")
    source = f"def __init__({', '.join(params)}):\n" + ("\n".join(body) or "    pass") + "\n"
    exec(source, names)  # noqa: S102 - the source is made from the class's own field names only
    init = names["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.dataclass_init = cls.__dict__["__init__"]
    setattr(cls, "__init__", init)
    return cls
