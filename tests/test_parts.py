"""The engine's composed models: a handler's part of the snapshot view or the inventory."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, Field

from omnimigrate.engine.parts import compose, part


class Base(BaseModel):
    url: str


class Folders(BaseModel):
    folders: dict[str, str] = Field(default_factory=dict)


class Labels(BaseModel):
    labels: dict[str, str] = Field(default_factory=dict)


class Other(BaseModel):
    labels: list[str] = Field(default_factory=list)


def test_a_composed_model_is_each_of_its_parts_and_round_trips() -> None:
    Composed = compose("Composed", Base, [Folders, None, Labels, Folders])
    inv = Composed(url="u", folders={"a": "1"})
    part(inv, Labels).labels["x"] = "y"
    assert part(inv, Folders) is inv
    assert Composed.model_validate_json(inv.model_dump_json()) == inv


def test_a_part_the_model_lacks_is_named() -> None:
    inv = compose("Inv", Base, [Folders])(url="u")
    with pytest.raises(TypeError, match="Inv has no Labels part"):
        part(inv, Labels)


def test_two_parts_declaring_one_field_are_refused() -> None:
    with pytest.raises(ValueError, match=r"two parts declare the same fields: \['labels'\]"):
        compose("Inv", Base, [Labels, Other])


class Shared(BaseModel):
    groups: dict[str, str] = Field(default_factory=dict)


class FromShared(Shared):
    pass


class AlsoFromShared(Shared):
    extra: int = 0


class OwnGroups(BaseModel):
    groups: list[str] = Field(default_factory=list)


def test_a_field_two_parts_inherit_from_one_base_is_one_but_an_inherited_clash_is_refused() -> None:
    assert compose("Inv", Base, [FromShared, AlsoFromShared])(url="u").groups == {}
    with pytest.raises(ValueError, match=r"\['groups'\]"):
        compose("Inv", Base, [FromShared, OwnGroups])
