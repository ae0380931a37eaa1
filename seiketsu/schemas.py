"""Base of every API schema: camelCase on the wire, snake_case in Python; and the field types every input shares.

Every text field of a request body is bounded (``MAX_TEXT_LENGTH`` unless the field says otherwise), and so is
every free-form JSON object (``JsonObject``, ``BoundedWireKeyed``): what a tenant stores is read back on its every
request and call.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, Any, Generic, TypeVar

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    PlainSerializer,
    field_validator,
)
from pydantic.alias_generators import to_camel

MAX_TEXT_LENGTH = 10_000
MAX_JSON_OBJECT_BYTES = 32 * 1024

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
    """Request bodies: unknown fields are an error, not silently dropped; text is bounded."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        str_strip_whitespace=True,
        str_max_length=MAX_TEXT_LENGTH,
        allow_inf_nan=False,
    )


class PartialUpdate(InputModel):
    """A PUT or PATCH body of fields that cannot be empty: one left out keeps its value, null is refused."""

    @field_validator("*", mode="before")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("must not be null: leave the field out to keep its value")
        return value


def _in_utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError as exc:  # year 1 east of UTC, or year 9999 west of it
        raise ValueError("out of range once converted to UTC") from exc


UtcDateTime = Annotated[AwareDatetime, AfterValidator(_in_utc)]
"""A moment with its UTC offset, answered in UTC; one that has no UTC equivalent is a validation error."""


def bounded_json(value: dict[str, Any]) -> dict[str, Any]:
    """``value`` if its JSON fits in :data:`MAX_JSON_OBJECT_BYTES`; a ValueError naming the size otherwise."""
    size = len(json.dumps(value, ensure_ascii=False).encode())
    if size > MAX_JSON_OBJECT_BYTES:
        raise ValueError(f"at most {MAX_JSON_OBJECT_BYTES} bytes of JSON (got {size})")
    return value


JsonObject = Annotated[dict[str, Any], AfterValidator(bounded_json)]
"""A free-form JSON object (settings) of bounded size."""

BoundedWireKeyed = Annotated[WireKeyed, AfterValidator(bounded_json)]
"""A :data:`WireKeyed` object sent by a client (qualification answers), of bounded size."""


ItemT = TypeVar("ItemT")


class Page(CamelModel, Generic[ItemT]):
    items: list[ItemT]
    next_cursor: str | None = None
