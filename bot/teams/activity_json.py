"""Fast conversion between Bot Framework JSON and botbuilder-schema models.

msrest's Serializer/Deserializer cost ~150-190 us per activity (docs/architecture.md,
"Performance facts"), more than a whole bare request. These functions walk each model's
`_attribute_map` once per class and then copy fields directly, which is an order of
magnitude cheaper and yields the same objects the SDK's own code expects. Parsing works
out each class's fields and their conversions once (`_Reader`), so a field costs a dict
lookup and, for nested models, lists and times only, a call.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from botbuilder import schema
from botbuilder.schema import teams as teams_schema
from msrest.serialization import Model

from bot.teams.cards import Card

_MODELS: dict[str, type[Model]] = {
    name: obj
    for module in (schema, teams_schema)
    for name, obj in vars(module).items()
    if isinstance(obj, type) and issubclass(obj, Model)
}

# A field's conversion from JSON (None: the value is kept as it is: strings, numbers,
# `object` fields such as channelData).
Convert = Callable[[Any], Any]


@dataclass
class _Reader:
    """How to build one model class from JSON, worked out once per class: each JSON key's
    attribute and conversion, and the attributes a fresh instance starts with (all None)."""

    fields: dict[str, tuple[str, Convert | None]] = field(default_factory=dict)
    blank: dict[str, Any] = field(default_factory=dict)


_READERS: dict[type, _Reader] = {}
# per class: [(attribute, json key)]
_OUT: dict[type, list[tuple[str, str]]] = {}


def _reader(cls: type[Model]) -> _Reader:
    found = _READERS.get(cls)
    if found is None:
        found = _Reader()
        for attr, spec in cls._attribute_map.items():
            if spec.get("key"):
                found.fields[spec["key"]] = (attr, _converter(spec["type"]))
                found.blank[attr] = None
        _READERS[cls] = found
    return found


def _out_map(cls: type[Model]) -> list[tuple[str, str]]:
    found = _OUT.get(cls)
    if found is None:
        found = [
            (attr, spec["key"]) for attr, spec in cls._attribute_map.items() if spec.get("key")
        ]
        _OUT[cls] = found
    return found


def _datetime(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return dt.datetime.fromisoformat(value)
    except ValueError:
        return None


def _converter(type_name: str) -> Convert | None:
    """The conversion for an msrest type string: `[T]` lists, model names, `iso-8601`."""
    if type_name.startswith("["):
        inner = _converter(type_name[1:-1])
        if inner is None:
            return None
        return lambda value: ([None if v is None else inner(v) for v in value]
                              if isinstance(value, list) else value)
    model = _MODELS.get(type_name)
    if model is not None:
        return lambda value: to_model(model, value) if isinstance(value, dict) else None
    if type_name == "iso-8601":
        return _datetime
    return None


def to_model(cls: type[Model], data: dict[str, Any]) -> Any:
    """Build `cls` from its JSON dict; unknown keys are kept in `additional_properties`."""
    reader = _reader(cls)
    fields = reader.fields
    values = reader.blank.copy()
    extra: dict[str, Any] = {}
    for key, value in data.items():
        target = fields.get(key)
        if target is None:
            extra[key] = value
        elif value is not None:
            attr, convert = target
            values[attr] = value if convert is None else convert(value)
    values["additional_properties"] = extra
    obj = cls.__new__(cls)
    obj.__dict__.update(values)
    return obj


def activity_from_dict(data: dict[str, Any]) -> schema.Activity:
    """Parse an incoming activity body."""
    return to_model(schema.Activity, data)


def to_json(value: Any) -> Any:
    """Turn a model (or anything holding models) into JSON-ready data, dropping Nones."""
    if isinstance(value, Model):
        out: dict[str, Any] = {}
        for attr, key in _out_map(type(value)):
            item = getattr(value, attr, None)
            if item is not None:
                out[key] = to_json(item)
        extra = getattr(value, "additional_properties", None)
        if extra:
            for key, item in extra.items():
                out.setdefault(key, to_json(item))
        return out
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value.value if isinstance(value, Enum) else value
    if isinstance(value, Card):
        return value  # built from JSON values only and never changed: no need to walk it
    if isinstance(value, dict):
        return {k: to_json(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value.isoformat()
    return value
