"""Invoice PDF download, shared by the page and the JSON API."""

from __future__ import annotations

import re

from litestar.response import Stream

from portal_gateway.clients import NotFoundError, Session
from portal_gateway.deps import Gateway

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_filename(name: str, fallback: str) -> str:
    """Header-safe: no quotes, no path parts, no control characters."""
    cleaned = _UNSAFE.sub("_", name).strip("._") or fallback
    return cleaned if cleaned.lower().endswith(".pdf") else f"{cleaned}.pdf"


async def invoice_pdf(gateway: Gateway, session: Session, invoice_id: str) -> Stream:
    # billing-view answers 404 for an invoice of another bill group, before S3 is touched.
    invoice = await gateway.portal.invoice(session, invoice_id)
    document = invoice.get("document")
    if not document:
        raise NotFoundError("invoice document")
    chunks = await gateway.documents.open(str(document["bucket"]), str(document["key"]))
    filename = safe_filename(str(document.get("filename") or ""), f"invoice-{invoice_id}")
    headers = {
        "content-disposition": f'attachment; filename="{filename}"',
        "cache-control": "private, no-store",
    }
    return Stream(
        chunks,
        media_type=str(document.get("content_type") or "application/pdf"),
        headers=headers,
    )
