"""Field-by-field checks for the profile editor, run as the engineer types.

The rules are the core's (``certline.app.config.profile_store.validate_profile``,
``certline.app.config.est_urls.parse_est_url``); this module only decides which field a
problem belongs to, so the message can sit right under that field. Problems
the core describes come in the core's words; the few checks that only make
sense in a form (an empty required field, a file that is not there) are
translated here.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QCoreApplication

from certline.app.config.est_urls import EstUrlError, parse_est_url
from certline.app.config.profile import AuthStyle, Profile
from certline.app.config.profile_store import (
    InvalidProfile,
    InvalidProfileName,
    check_passcode_quota,
    validate_profile,
    validate_profile_name,
)

translate = QCoreApplication.translate  # lupdate finds translate("Context", "text") calls

Problems = dict[str, str]


def _url_problem(url: str | None, profile: Profile, *, required: bool) -> str | None:
    if not url:
        return translate("ProfileValidation", "Required.") if required else None
    if not url.lower().startswith("https://"):
        return translate("ProfileValidation", "Must start with https:// (EST always uses TLS).")
    try:
        parse_est_url(url, label=profile.label, device_group=profile.device_group)
    except EstUrlError as exc:
        return str(exc)
    return None


def _file_problem(path: str | None, *, required: bool) -> str | None:
    if not path:
        return (
            translate("ProfileValidation", "Required for client-certificate authentication.")
            if required
            else None
        )
    if not Path(path).is_file():
        return translate("ProfileValidation", "No such file.")
    return None


def _subject_problems(template: dict[str, str]) -> Problems:
    problems: Problems = {}
    if not template:
        problems["subject.CN"] = translate("ProfileValidation", "Give at least one subject attribute.")
    for attr, value in template.items():
        try:
            value.format(serial="X")
        except (KeyError, IndexError, ValueError):
            problems[f"subject.{attr}"] = translate(
                "ProfileValidation", "Only the placeholder {serial} is allowed."
            )
    country = template.get("C")
    if country is not None and (len(country) != 2 or not country.isalpha()):
        problems["subject.C"] = translate("ProfileValidation", "Two letters, e.g. DE.")
    return problems


def field_problems(profile: Profile) -> Problems:
    """Problems keyed by field name (``subject.<attr>`` for the subject template)."""
    problems: Problems = {}
    try:
        validate_profile_name(profile.name)
    except InvalidProfileName as exc:
        problems["name"] = str(exc)
    for key, required in (("enroll_url", True), ("reenroll_url", False)):
        problem = _url_problem(getattr(profile, key), profile, required=required)
        if problem:
            problems[key] = problem
    if profile.auth_style is AuthStyle.USER_PASSWORD and not profile.username:
        problems["username"] = translate("ProfileValidation", "Required for user/password authentication.")
    if profile.auth_style is AuthStyle.CLIENT_CERT:
        problems.update(_client_cert_problems(profile))
    if profile.ca_bundle_file and not Path(profile.ca_bundle_file).is_file():
        problems["ca_bundle_file"] = translate("ProfileValidation", "No such file.")
    problems.update(_subject_problems(profile.subject_template))
    try:
        check_passcode_quota(profile)
    except InvalidProfile as exc:  # the core's message starts with the field's name
        problems[str(exc).split(" ", 1)[0]] = str(exc)
    return problems


def _client_cert_problems(profile: Profile) -> Problems:
    problems: Problems = {}
    if profile.client_p12_file:
        problem = _file_problem(profile.client_p12_file, required=True)
        if problem:
            problems["client_p12_file"] = problem
        return problems
    for key in ("client_cert_file", "client_key_file"):
        problem = _file_problem(getattr(profile, key), required=True)
        if problem:
            problems[key] = problem
    return problems


def overall_problem(profile: Profile) -> str | None:
    """What the core still refuses once every field looks right (None: the profile can be saved)."""
    try:
        validate_profile(profile)
    except InvalidProfile as exc:
        return str(exc)
    return None
