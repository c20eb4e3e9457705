"""Before a batch starts: does the profile pin a trust anchor for its EST server?

Without one the EST client refuses to connect (TLS verification is never turned off). The CLI
checks first so the technician gets one line saying what to configure, instead of a failure
deep inside the batch start.
"""

from __future__ import annotations

from certline.app.config.profile import Profile
from certline.app.est.client import load_trust_anchors
from certline.app.est.errors import EstError


def trust_anchor_problem(profile: Profile) -> str | None:
    """What is wrong with ``profile``'s trust anchor and how to fix it, or ``None`` when it has one."""
    try:
        anchors = load_trust_anchors(profile)
    except (EstError, ValueError) as exc:
        return f"profile {profile.name!r}: its CA bundle cannot be used ({exc}); {_how_to_fix(profile)}"
    if anchors:
        return None
    return f"profile {profile.name!r} has no trust anchor for its EST server; {_how_to_fix(profile)}"


def _how_to_fix(profile: Profile) -> str:
    return (
        f"fetch the server's CA and confirm its fingerprint with 'certline est cacerts --url "
        f"{profile.enroll_url} --bootstrap --ca ca.pem', then pin it with 'certline profile edit "
        f"{profile.name} --ca ca.pem', or use 'Fetch from server and compare…' in the station window's "
        "profile editor"
    )
