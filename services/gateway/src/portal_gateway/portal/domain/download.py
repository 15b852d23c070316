"""Invoice PDF downloads: a file name safe to put in a header."""

from __future__ import annotations

import re

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_filename(name: str, fallback: str) -> str:
    """Header-safe: no quotes, no path parts, no control characters."""
    cleaned = _UNSAFE.sub("_", name).strip("._") or fallback
    return cleaned if cleaned.lower().endswith(".pdf") else f"{cleaned}.pdf"
