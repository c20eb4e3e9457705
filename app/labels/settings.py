"""The profile's label settings: template, output kind and target (all optional).

They live in one optional profile field, ``label_printing`` (a JSON object),
so a profile without it prints no labels and older profiles load unchanged::

    "label_printing": {
        "template": ["{serial}", "{model} fw {firmware}", "valid to {not_after}"],
        "output": "pdf",              # pdf | zpl | system
        "target": "/srv/labels",      # folder | host:port | printer name ("" = default printer)
        "width_mm": 50, "height_mm": 30
    }
"""

from __future__ import annotations

import enum
import string
from dataclasses import dataclass
from typing import Any

#: placeholders a template may use (see :class:`certline.app.labels.content.LabelContent`)
PLACEHOLDERS: frozenset[str] = frozenset(
    {
        "serial",
        "model",
        "firmware",
        "cert_serial",
        "sha256_prefix",
        "not_after",
        "work_order",
        "batch",
        "device",
    }
)

DEFAULT_TEMPLATE: tuple[str, ...] = ("{serial}", "{model}", "{sha256_prefix}", "exp. {not_after}")
ZPL_DEFAULT_PORT = 9100
MAX_LINES = 8


class LabelOutput(enum.StrEnum):
    PDF = "pdf"  # one PDF file per label in a folder
    ZPL = "zpl"  # raw ZPL to a network label printer (TCP 9100)
    SYSTEM = "system"  # the OS printer through Qt's printing support (station window only)


@dataclass(frozen=True)
class LabelSettings:
    template: tuple[str, ...]
    output: LabelOutput
    target: str
    width_mm: float = 50.0
    height_mm: float = 30.0

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LabelSettings:
        """Validate a profile's ``label_printing`` object; ValueError names the bad part."""
        known = {"template", "output", "target", "width_mm", "height_mm"}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown label_printing fields: {', '.join(sorted(unknown))}")
        raw_template = data.get("template", list(DEFAULT_TEMPLATE))
        if isinstance(raw_template, str):
            raw_template = raw_template.splitlines()
        template = tuple(str(line) for line in raw_template)
        check_template(template)
        try:
            output = LabelOutput(data.get("output", LabelOutput.PDF.value))
        except ValueError:
            raise ValueError(
                f"label_printing output must be one of {', '.join(o.value for o in LabelOutput)}"
            ) from None
        target = str(data.get("target", ""))
        if output is LabelOutput.PDF and not target:
            raise ValueError("label_printing output 'pdf' needs a target folder")
        if output is LabelOutput.ZPL:
            parse_host_port(target)
        width, height = float(data.get("width_mm", 50.0)), float(data.get("height_mm", 30.0))
        if not (15 <= width <= 200 and 10 <= height <= 200):
            raise ValueError("label_printing size must be 15-200 mm wide and 10-200 mm high")
        return cls(template, output, target, width, height)

    def with_output(self, output: LabelOutput, target: str) -> LabelSettings:
        """The same label sent elsewhere (a reprint to a folder or another printer)."""
        return LabelSettings(self.template, output, target, self.width_mm, self.height_mm)


def check_template(template: tuple[str, ...]) -> None:
    """Only known ``{name}`` placeholders: no attribute or index access, no format specs."""
    if not template or len(template) > MAX_LINES:
        raise ValueError(f"label_printing template needs 1 to {MAX_LINES} lines")
    for line in template:
        try:
            fields = list(string.Formatter().parse(line))
        except ValueError as exc:
            raise ValueError(f"label template line {line!r}: {exc}") from None
        for _literal, name, spec, conversion in fields:
            if name is None:
                continue
            if name not in PLACEHOLDERS or spec or conversion:
                raise ValueError(
                    f"label template line {line!r}: unknown placeholder {{{name}}} "
                    f"(use {', '.join('{' + p + '}' for p in sorted(PLACEHOLDERS))})"
                )


def parse_host_port(target: str) -> tuple[str, int]:
    """``host``, ``host:port`` or ``[v6]:port``; the port defaults to 9100 (raw printing)."""
    text = target.strip()
    if not text:
        raise ValueError("a ZPL printer needs HOST or HOST:PORT")
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port_text = rest[1:] if rest.startswith(":") else ""
    elif text.count(":") == 1:
        host, port_text = text.split(":")
    else:
        host, port_text = text, ""
    if not host:
        raise ValueError(f"no host in printer address {target!r}")
    if not port_text:
        return host, ZPL_DEFAULT_PORT
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ValueError(f"bad port in printer address {target!r}")
    return host, int(port_text)


def settings_from_profile_json(profile_json: dict[str, Any]) -> LabelSettings | None:
    """The label settings of a (journaled) profile, or None when it prints no labels."""
    raw = profile_json.get("label_printing")
    if not raw:
        return None
    if not isinstance(raw, dict):
        raise ValueError("label_printing must be a JSON object")
    return LabelSettings.from_json(raw)
