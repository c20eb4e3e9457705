"""A small structural check of a JSON document against the subset of JSON Schema our MES record
schema uses (type, const, enum, required, properties, additionalProperties: false, pattern,
minimum, format date-time).

Why not the ``jsonschema`` package: it is not a dependency of Certline, and this subset is all
``resources/mes/mes-record.schema.json`` uses; a keyword outside it fails the check loudly
instead of being ignored, so the schema cannot grow past what the test really checks.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "null": (type(None),),
}
_KNOWN = {
    "$schema", "$id", "title", "description", "type", "const", "enum", "required", "properties",
    "additionalProperties", "pattern", "minimum", "format",
}  # fmt: skip


def problems(document: Any, schema: dict[str, Any], where: str = "$") -> list[str]:
    """Every place ``document`` breaks ``schema`` (empty: it conforms)."""
    unknown = set(schema) - _KNOWN
    if unknown:
        raise AssertionError(f"{where}: schema keywords this check does not know: {sorted(unknown)}")
    found: list[str] = []
    if "const" in schema and document != schema["const"]:
        found.append(f"{where}: {document!r} is not {schema['const']!r}")
    if "enum" in schema and document not in schema["enum"]:
        found.append(f"{where}: {document!r} is not one of {schema['enum']}")
    if "type" in schema:
        names = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        ok = any(
            isinstance(document, _TYPES[n])
            and not (n in ("integer", "number") and isinstance(document, bool))
            for n in names
        )
        if not ok:
            return [*found, f"{where}: {type(document).__name__} is not {names}"]
    if isinstance(document, str):
        if "pattern" in schema and not re.search(schema["pattern"], document):
            found.append(f"{where}: {document!r} does not match {schema['pattern']}")
        if schema.get("format") == "date-time":
            try:
                parsed = datetime.fromisoformat(document)
                if parsed.tzinfo is None:
                    found.append(f"{where}: {document!r} has no time zone")
            except ValueError:
                found.append(f"{where}: {document!r} is not an ISO 8601 date-time")
    if isinstance(document, int | float) and "minimum" in schema and document < schema["minimum"]:
        found.append(f"{where}: {document} < {schema['minimum']}")
    if isinstance(document, dict):
        for name in schema.get("required", []):
            if name not in document:
                found.append(f"{where}: {name!r} is missing")
        properties = schema.get("properties", {})
        if schema.get("additionalProperties") is False:
            for name in set(document) - set(properties):
                found.append(f"{where}: {name!r} is not in the schema")
        for name, sub in properties.items():
            if name in document:
                found.extend(problems(document[name], sub, f"{where}.{name}"))
    return found
