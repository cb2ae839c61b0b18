"""Fast conversion between Bot Framework JSON and botbuilder-schema models.

msrest's Serializer/Deserializer cost ~150-190 us per activity (docs/architecture.md,
"Performance facts"), more than a whole bare request. These functions walk each model's
`_attribute_map` once per class and then copy fields directly, which is an order of
magnitude cheaper and yields the same objects the SDK's own code expects.
"""

from __future__ import annotations

import datetime as dt
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

# per class: json key -> (attribute, type string)
_IN: dict[type, dict[str, tuple[str, str]]] = {}
# per class: [(attribute, json key)]
_OUT: dict[type, list[tuple[str, str]]] = {}


def _in_map(cls: type[Model]) -> dict[str, tuple[str, str]]:
    found = _IN.get(cls)
    if found is None:
        found = {
            spec["key"]: (attr, spec["type"])
            for attr, spec in cls._attribute_map.items()
            if spec.get("key")
        }
        _IN[cls] = found
    return found


def _out_map(cls: type[Model]) -> list[tuple[str, str]]:
    found = _OUT.get(cls)
    if found is None:
        found = [
            (attr, spec["key"]) for attr, spec in cls._attribute_map.items() if spec.get("key")
        ]
        _OUT[cls] = found
    return found


def _convert_in(value: Any, type_name: str) -> Any:
    if value is None:
        return None
    if type_name.startswith("[") and isinstance(value, list):
        inner = type_name[1:-1]
        return [_convert_in(v, inner) for v in value]
    model = _MODELS.get(type_name)
    if model is not None:
        return to_model(model, value) if isinstance(value, dict) else None
    if type_name == "iso-8601" and isinstance(value, str):
        try:
            return dt.datetime.fromisoformat(value)
        except ValueError:
            return None
    return value


def to_model(cls: type[Model], data: dict[str, Any]) -> Any:
    """Build `cls` from its JSON dict; unknown keys are kept in `additional_properties`."""
    fields = _in_map(cls)
    obj = cls.__new__(cls)
    extra: dict[str, Any] = {}
    values = dict.fromkeys((attr for attr, _ in fields.values()))
    for key, value in data.items():
        target = fields.get(key)
        if target is None:
            extra[key] = value
        else:
            values[target[0]] = _convert_in(value, target[1])
    obj.__dict__.update(values)
    obj.additional_properties = extra
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
