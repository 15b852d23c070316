"""The portal's public URL scheme, shared by access (which puts links in emails and previews)
and the gateway (which serves them). Changing a path here changes both sides at once."""

from __future__ import annotations

from urllib.parse import quote

PORTAL_PATH = "/p/{portal_key}"
VERIFY_SUFFIX = "/verify/{token}"
PREVIEW_SUFFIX = "/preview/{token}"


def _segment(value: str) -> str:
    return quote(value, safe="")


def portal_path(portal_key: str) -> str:
    return PORTAL_PATH.format(portal_key=_segment(portal_key))


def portal_url(base_url: str, portal_key: str) -> str:
    return base_url.rstrip("/") + portal_path(portal_key)


def verify_url(base_url: str, portal_key: str, token: str) -> str:
    return portal_url(base_url, portal_key) + VERIFY_SUFFIX.format(token=_segment(token))


def preview_url(base_url: str, portal_key: str, token: str) -> str:
    return portal_url(base_url, portal_key) + PREVIEW_SUFFIX.format(token=_segment(token))
