"""EST URL shapes the test server understands.

RFC 7030 3.2.2: ``/.well-known/est[/<label>]/<op>``. DTM adds two twists that
Certline must handle: labels with slashes (``cps/IOT_<uuid>``) and a device
group ID appended *after* the operation. Some deployments put the device group
before the operation instead (``.../device-group/<id>/<op>``); both are parsed
so the client's URL building can be checked either way.
"""

from __future__ import annotations

import enum
import urllib.parse
from dataclasses import dataclass

WELL_KNOWN = "/.well-known/est"


class Operation(enum.StrEnum):
    CACERTS = "cacerts"
    CSRATTRS = "csrattrs"
    SIMPLEENROLL = "simpleenroll"
    SIMPLEREENROLL = "simplereenroll"
    SERVERKEYGEN = "serverkeygen"

    @property
    def method(self) -> str:
        return "GET" if self in (Operation.CACERTS, Operation.CSRATTRS) else "POST"

    @property
    def issues(self) -> bool:
        return self.method == "POST"


_OPS = {op.value: op for op in Operation}


@dataclass(frozen=True)
class Route:
    op: Operation
    label: str | None
    device_group: str | None


class RouteError(ValueError):
    """The path is not an EST URL (→ 404)."""


def parse_path(raw_path: str) -> Route:
    """Split a request path into operation, label (may contain '/') and device group."""
    path = urllib.parse.urlsplit(raw_path).path
    if not (path == WELL_KNOWN or path.startswith(WELL_KNOWN + "/")):
        raise RouteError(f"not an EST path: {path}")
    # strict on purpose: "//" means the client glued a base ending in "/" to "/op"
    rest = path[len(WELL_KNOWN) + 1 :]
    if rest.endswith("/"):
        rest = rest[:-1]
    segments = [urllib.parse.unquote(s) for s in rest.split("/")] if rest else []
    if any(s == "" for s in segments):
        raise RouteError("empty path segment")
    if segments and segments[-1] in _OPS:
        op_index, suffix = len(segments) - 1, None
    elif len(segments) >= 2 and segments[-2] in _OPS:
        op_index, suffix = len(segments) - 2, segments[-1]
    else:
        raise RouteError(f"no EST operation in {path}")
    op = _OPS[segments[op_index]]
    prefix = segments[:op_index]
    group_in_path: str | None = None
    if len(prefix) >= 2 and prefix[-2] == "device-group":
        group_in_path = prefix[-1]
        prefix = prefix[:-2]
    if group_in_path is not None and suffix is not None and group_in_path != suffix:
        raise RouteError("two different device groups in one path")
    label = "/".join(prefix) or None
    return Route(op=op, label=label, device_group=suffix or group_in_path)


def build_path(
    op: Operation | str,
    label: str | None = None,
    device_group: str | None = None,
    *,
    group_style: str = "suffix",
) -> str:
    """Inverse of :func:`parse_path`; ``group_style`` is ``suffix`` (DTM) or ``path``."""
    parts = [WELL_KNOWN]
    if label:
        parts.extend(urllib.parse.quote(p, safe="") for p in label.strip("/").split("/"))
    if device_group and group_style == "path":
        parts.extend(["device-group", urllib.parse.quote(device_group, safe="")])
    parts.append(Operation(op).value)
    if device_group and group_style == "suffix":
        parts.append(urllib.parse.quote(device_group, safe=""))
    return "/".join(parts)
