"""Building a domain's shapes from one declaration (the Netflix/dispatch pattern): a base model holds the
fields and their rules once; Create, Update and Read extend it instead of listing the fields again.

Pydantic orders fields by the bases in reverse method resolution order, so a read model lists its bases
last-first: `class ShopRead(Stamped, ShopCreate, Identified)` answers id, the create fields, then the
timestamps.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, create_model, field_validator
from pydantic.fields import FieldInfo

R = TypeVar("R", bound=BaseModel)


def partial(model: type[BaseModel], *, exclude: Iterable[str] = ()) -> type[BaseModel]:
    """The base of MODEL's update (PATCH) model: every field but EXCLUDE optional with default None, its
    rules and field validators kept (a null still clears a nullable column; a required column refuses it by
    name), unknown fields refused. Subclass it: `class ShopUpdate(partial(ShopFields)): "docstring"`. The
    fields the caller sent are `model_fields_set`."""
    skip = set(exclude)
    fields: dict[str, Any] = {}
    for field_name, info in model.model_fields.items():
        if field_name in skip:
            continue
        optional = FieldInfo.merge_field_infos(info, default=None)
        optional.default_factory = None
        annotation = info.annotation
        assert annotation is not None  # pydantic gives every field of a model its annotation
        fields[field_name] = (annotation | None, optional)
    validators: dict[str, Any] = {}
    for name, decorator in model.__pydantic_decorators__.field_validators.items():
        kept = [f for f in decorator.info.fields if f in fields]
        if kept:
            validators[name] = field_validator(*kept, mode=decorator.info.mode)(decorator.func)
    return create_model(f"{model.__name__}Partial",
                        __config__=ConfigDict(**{**model.model_config, "extra": "forbid"}),
                        __validators__=validators, **fields)


def read_of(model: type[R], row: Any, **computed: Any) -> R:
    """MODEL read from ROW's attributes (a table row, a dataclass) and the COMPUTED values it lacks (counts,
    rows of another table, the maths' answers), in one validation from attributes, nested shapes included:
    a read shape is never copied field by field."""
    values = {name: computed[name] if name in computed else getattr(row, name)
              for name in model.model_fields if name in computed or hasattr(row, name)}
    return model.model_validate(values, from_attributes=True)


class Identified(BaseModel):
    """The id of a stored row (a read model's first field: list it last among the bases). As the last base,
    its config is the read model's: read from attributes (rows), and tolerant of extra ones."""

    model_config = ConfigDict(from_attributes=True, extra="ignore")

    id: uuid.UUID


class Stamped(BaseModel):
    """When a stored row was made and last changed (a read model's last fields: list it first)."""

    model_config = ConfigDict(from_attributes=True)

    created_at: datetime
    updated_at: datetime
