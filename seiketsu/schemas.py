"""Base of every API schema: camelCase on the wire, snake_case in Python."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any, Generic, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, PlainSerializer
from pydantic.alias_generators import to_camel

_SNAKE_JOINT = re.compile(r"_([a-z0-9])")
_CAMEL_HUMP = re.compile(r"(?<=[a-z0-9])([A-Z])")


def camel_keys(value: Mapping[str, Any]) -> dict[str, Any]:
    """``{"budget_max": 1}`` -> ``{"budgetMax": 1}``; keys already in camelCase stay as they are."""
    return {_SNAKE_JOINT.sub(lambda m: m.group(1).upper(), key): item for key, item in value.items()}


def snake_keys(value: Any) -> Any:
    """``{"budgetMax": 1}`` -> ``{"budget_max": 1}``, so stored keys are one spelling whatever the client sent."""
    if not isinstance(value, Mapping):
        return value
    return {_CAMEL_HUMP.sub(lambda m: "_" + m.group(1).lower(), key): item for key, item in value.items()}


WireKeyed = Annotated[dict[str, Any], BeforeValidator(snake_keys), PlainSerializer(camel_keys, when_used="json")]
"""A free-form object (qualification, latencies) stored with snake_case keys and shown in camelCase."""


class CamelModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, from_attributes=True)


class InputModel(CamelModel):
    """Request bodies: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", str_strip_whitespace=True
    )


ItemT = TypeVar("ItemT")


class Page(CamelModel, Generic[ItemT]):
    items: list[ItemT]
    next_cursor: str | None = None
