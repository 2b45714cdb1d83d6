"""The JSON-schema half of configuration checks (:mod:`.config`): defaults filled in from the
schema, structural problems (non-string keys, ...) and schema violations, each described as
``key.path: what is wrong; allowed: ...`` with the property's description where it has one."""

from __future__ import annotations

import copy
import difflib
import math

import jsonschema


def key_path(path) -> str:
    return ".".join(str(p) for p in path) or "<config>"


def _resolve_ref(schema: dict, root: dict) -> dict:
    while "$ref" in schema:
        target = root
        for part in schema["$ref"].lstrip("#/").split("/"):
            target = target[part]
        schema = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
    return schema


def fill_defaults(instance, schema: dict, root: dict) -> None:
    """Insert ``default`` values of object properties, recursing into nested objects."""
    schema = _resolve_ref(schema, root)
    if not isinstance(instance, dict):
        return
    for name, sub in schema.get("properties", {}).items():
        sub = _resolve_ref(sub, root)
        if name not in instance and "default" in sub:
            instance[name] = copy.deepcopy(sub["default"])
        if name in instance:
            fill_defaults(instance[name], sub, root)
    extra = schema.get("additionalProperties")
    if isinstance(extra, dict):
        for name, value in instance.items():
            if name not in schema.get("properties", {}):
                fill_defaults(value, extra, root)


# JSON Schema counts 3.0 as an integer; a count of steps or seeds must be a real int.
_TYPE_CHECKER = jsonschema.Draft202012Validator.TYPE_CHECKER.redefine(
    "integer", lambda _, value: isinstance(value, int) and not isinstance(value, bool))
_Validator = jsonschema.validators.extend(jsonschema.Draft202012Validator,
                                          type_checker=_TYPE_CHECKER)


def structural_errors(node, path=()) -> list[str]:
    """What JSON Schema cannot see: non-string keys and non-finite numbers (NaN passes every
    numeric bound, since every comparison with it is false)."""
    messages = []
    if isinstance(node, dict):
        for key, value in node.items():
            if not isinstance(key, str):
                messages.append(f"{key_path(path + (key,))}: keys must be strings, got "
                                f"{type(key).__name__} {key!r}")
                continue
            messages += structural_errors(value, path + (key,))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            messages += structural_errors(value, path + (index,))
    elif isinstance(node, float) and not math.isfinite(node):
        messages.append(f"{key_path(path)}: {node!r} is not a finite number")
    return messages


def _property_description(root: dict, path: list) -> str | None:
    """The ``description`` of the schema node a config path points at (not of its parents)."""
    schema = _resolve_ref(root, root)
    for part in path:
        options = [schema] + [_resolve_ref(o, root) for o in schema.get("oneOf", [])]
        if isinstance(part, int):
            nxt = next((o["items"] for o in options if "items" in o), None)
        else:
            nxt = next((o["properties"][part] for o in options
                        if part in o.get("properties", {})), None)
            if nxt is None:
                nxt = next((o["additionalProperties"] for o in options
                            if isinstance(o.get("additionalProperties"), dict)), None)
        if nxt is None:
            return None
        schema = _resolve_ref(nxt, root)
    return schema.get("description")


def _describe(error: jsonschema.ValidationError, root: dict) -> str:
    """One line per schema error: the dotted key, the problem, and what is allowed."""
    path = list(error.absolute_path)
    if error.validator == "additionalProperties":
        allowed = sorted(_resolve_ref(error.schema, root).get("properties", {}))
        unknown = sorted(set(error.instance) - set(allowed))
        lines = []
        for name in unknown:
            hint = difflib.get_close_matches(name, allowed, n=1)
            tip = f" (did you mean {hint[0]!r}?)" if hint else ""
            lines.append(f"{key_path(path + [name])}: unknown key{tip}; allowed keys: {allowed}")
        return "\n".join(lines)
    if "propertyNames" in error.schema_path:
        return (f"{key_path(path)}: experiment name {error.instance!r} is not allowed; "
                "allowed: letters, digits and underscores, starting with a letter")
    if error.validator == "required":
        return f"{key_path(path)}: {error.message}"
    message = error.message if len(error.message) < 160 else f"{error.instance!r} is not valid"
    if error.validator == "oneOf":
        message = f"{error.instance!r} is not valid"
    description = _property_description(root, path)
    return f"{key_path(path)}: {message}" + (f"; {description}" if description else "")


def schema_errors(cfg: dict, schema: dict) -> list[str]:
    validator = _Validator(schema)
    errors = sorted(validator.iter_errors(cfg), key=lambda e: list(map(str, e.absolute_path)))
    return [_describe(error, schema) for error in errors]
