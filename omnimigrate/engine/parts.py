"""Models made of the parts each handler declares: a type's slice of the snapshot view, of
the target inventory (and, on Lightdash, of one project's). The registry composes the parts
of its handlers into one class (`compose`), so no module names every type; a handler reads
its own part through its context, typed by that part's class, and another type's part with
`part`, typed by that one's. The composed object is an instance of every part, so both are
the same object seen through a narrower type, never a copy.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar, cast

from pydantic import BaseModel, create_model

BaseT = TypeVar("BaseT", bound=BaseModel)
PartT = TypeVar("PartT", bound=BaseModel)


def compose(name: str, base: type[BaseT], parts: Iterable[type[BaseModel] | None]) -> type[BaseT]:
    """One model with the fields of `base` and of every part (each once, in order)."""
    unique = tuple(dict.fromkeys(p for p in parts if p is not None))
    doubled = _fields_twice((base, *unique))
    if doubled:
        raise ValueError(f"{name}: two parts declare the same fields: {doubled}")
    composed: Any = create_model(name, __base__=(base, *unique), __module__=base.__module__)
    return cast(type[BaseT], composed)


def part(model: BaseModel, of: type[PartT]) -> PartT:
    """`model` seen as its part `of`: the error names a part whose handler is not in the
    registry that composed the model."""
    if not isinstance(model, of):
        raise TypeError(
            f"{type(model).__name__} has no {of.__name__} part: is its handler in the registry?"
        )
    return model


def _fields_twice(models: tuple[type[BaseModel], ...]) -> list[str]:
    """Fields that two of the models get from different classes (each its own, or one
    inherited from a base the other does not share): composed, one would hide the other's."""
    definer: dict[str, type[BaseModel]] = {}
    twice: set[str] = set()
    for m in models:
        for name in m.model_fields:
            by = _declaring(m, name)
            if definer.setdefault(name, by) is not by:
                twice.add(name)
    return sorted(twice)


def _declaring(model: type[BaseModel], field: str) -> type:
    """The class in `model`'s MRO that declares `field` (its annotation)."""
    return next(c for c in model.__mro__ if field in getattr(c, "__annotations__", {}))
