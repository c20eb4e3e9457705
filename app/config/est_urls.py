"""EST endpoint URLs in whatever form people paste them.

Accepted: the server root (``https://host``), the EST base (``.../.well-known/est``
or ``.../.well-known/est/<label path>``; DTM's label path is ``cps/IOT_<policy-id>``),
or a full operation URL as the DTM console shows it, which may carry the
device-group ID after the operation (``.../simpleenroll/<group>``) or as a
``device-group/<id>`` segment before it.

One rule covers all of them: split the path at the operation-name segment;
what comes before is the *base*, what comes after is the *suffix*, and every
operation URL is ``base + "/" + op + suffix``. That keeps a device-group ID in
the place the server expects it for every operation, whichever form was pasted.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, urlsplit, urlunsplit

WELL_KNOWN = "/.well-known/est"

OPERATIONS: tuple[str, ...] = (
    "cacerts",
    "simpleenroll",
    "simplereenroll",
    "serverkeygen",
    "csrattrs",
    "fullcmc",
)


class EstUrlError(ValueError):
    """The URL cannot be an EST endpoint; the message says what to fix."""


@dataclass(frozen=True)
class EstEndpoint:
    """A parsed EST endpoint: ``base`` (no trailing slash) and ``suffix`` ("" or "/...")."""

    base: str
    suffix: str = ""

    def url(self, operation: str) -> str:
        """The URL of one EST operation (``cacerts``, ``simpleenroll`` ...)."""
        if operation not in OPERATIONS:
            raise ValueError(f"unknown EST operation {operation!r}")
        return f"{self.base}/{operation}{self.suffix}"

    @property
    def host(self) -> str:
        return urlsplit(self.base).hostname or ""

    @property
    def port(self) -> int:
        return urlsplit(self.base).port or 443


def _segments(path: str) -> list[str]:
    return [s for s in path.split("/") if s]


def parse_est_url(url: str, *, label: str | None = None, device_group: str | None = None) -> EstEndpoint:
    """Parse a pasted URL into an :class:`EstEndpoint`.

    ``label`` is inserted after ``/.well-known/est`` when the URL has none (it may be a
    path such as ``cps/IOT_<id>``); ``device_group`` becomes the suffix when the URL has
    none. A label or device group that contradicts the URL is an error rather than a guess.
    """
    text = (url or "").strip().strip("'\"").strip()
    if not text:
        raise EstUrlError("the EST URL is empty")
    if "://" not in text:
        text = "https://" + text
    parts = urlsplit(text)
    if parts.scheme.lower() != "https":
        raise EstUrlError(f"EST needs https, not {parts.scheme}: {url.strip()}")
    if not parts.hostname:
        raise EstUrlError(f"no host in the EST URL: {url.strip()}")
    if parts.query:
        raise EstUrlError("the EST URL must not contain a query string ('?...')")
    if parts.username or parts.password:
        raise EstUrlError("credentials do not belong in the EST URL; use the keyring")

    segments = _segments(parts.path)
    op_index = next(
        (i for i, seg in enumerate(segments) if seg.lower() in OPERATIONS),
        None,
    )
    if op_index is None:
        base_segs, suffix_segs = segments, []
    else:
        base_segs, suffix_segs = segments[:op_index], segments[op_index + 1 :]

    base_segs = _apply_label(base_segs, label)
    suffix_segs = _apply_device_group(base_segs, suffix_segs, device_group)

    base_path = "/" + "/".join(base_segs)
    base = urlunsplit(("https", parts.netloc.lower(), base_path, "", ""))
    suffix = "".join("/" + s for s in suffix_segs)
    return EstEndpoint(base=base.rstrip("/"), suffix=suffix)


def _well_known_index(segs: list[str]) -> int | None:
    for i in range(len(segs) - 1):
        if segs[i].lower() == ".well-known" and segs[i + 1].lower() == "est":
            return i
    return None


def _apply_label(base_segs: list[str], label: str | None) -> list[str]:
    """Make sure the base has ``.well-known/est`` and the label, if any."""
    wk = _well_known_index(base_segs)
    if wk is None:
        if base_segs:
            # A non-standard base path (an EST service behind a path prefix): keep as is.
            existing: list[str] = []
            prefix = base_segs
        else:
            prefix = [".well-known", "est"]
            existing = []
    else:
        prefix = base_segs[: wk + 2]
        existing = base_segs[wk + 2 :]
    wanted = _segments(label.strip()) if label and label.strip() else []
    wanted = [quote(s, safe="-._~:@!$&'()*+,;=%") for s in wanted]
    if not wanted:
        return prefix + existing
    if not _strip_device_group(existing):
        return prefix + wanted + existing
    if existing[-len(wanted) :] == wanted or _strip_device_group(existing)[-len(wanted) :] == wanted:
        return prefix + existing
    raise EstUrlError(
        f"the URL already has the label {'/'.join(existing)!r}, "
        f"which differs from the profile's {'/'.join(wanted)!r}"
    )


def _strip_device_group(segs: list[str]) -> list[str]:
    for i in range(len(segs) - 1):
        if segs[i].lower() == "device-group":
            return segs[:i]
    return segs


def _url_device_group(base_segs: list[str], suffix_segs: list[str]) -> str | None:
    for i in range(len(base_segs) - 1):
        if base_segs[i].lower() == "device-group":
            return base_segs[i + 1]
    if suffix_segs:
        return suffix_segs[-1]
    return None


def _apply_device_group(base_segs: list[str], suffix_segs: list[str], device_group: str | None) -> list[str]:
    group = device_group.strip().strip("/") if device_group else ""
    if not group:
        return suffix_segs
    in_url = _url_device_group(base_segs, suffix_segs)
    if in_url is None:
        return [quote(group, safe="-._~")]
    if in_url == group:
        return suffix_segs
    raise EstUrlError(
        f"the URL already names device group {in_url!r}, which differs from the profile's {group!r}"
    )


def clientauth_url(url: str) -> str:
    """DTM's client-certificate host for an enroll URL: ``clientauth.`` + host, same path.

    A suggestion for the profile editor (DTM serves re-enrollment there); other servers
    usually accept client certificates on the enroll host itself.
    """
    text = url.strip()
    if "://" not in text:
        text = "https://" + text
    parts = urlsplit(text)
    host = parts.hostname or ""
    if not host or host.startswith("clientauth."):
        return urlunsplit(parts)
    netloc = parts.netloc.replace(host, "clientauth." + host, 1)
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
