"""In-memory fakes of the gateway's ports (billing-view, access, Kafka, S3), for unit tests of
the use cases: no servers, no sockets, every call recorded."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from urllib.parse import unquote

from pydantic import BaseModel

from portal_contracts.billing import BillingProfile
from portal_contracts.portal import BillingProfileChangeRequested
from portal_gateway.clients.http import RefusedError
from portal_gateway.clients.models import (
    AccountPortals,
    AdminPortal,
    AdminSessions,
    AuditLog,
    Forwarded,
    Grant,
    PortalInfo,
    PreviewLink,
    Refusal,
    Session,
    SigninPending,
)
from portal_gateway.errors import NotFoundError, PublishError
from portal_gateway.portal.models import (
    ActivityItem,
    BillGroup,
    Branding,
    ChangeKey,
    Contact,
    Entity,
    Invoice,
    InvoicePage,
    Overview,
    PaymentMethod,
    PortalPage,
    Subscription,
    Summary,
)
from portal_gateway.settings import Settings
from portal_localstack.ports import free_port

NOT_FOUND = "We could not find that."


def session(*, read_only: bool = False, bill_group_id: str = "bg_1") -> Session:
    return Session(
        session_token="tok_secret",
        tenant_id="t1",
        bill_group_id=bill_group_id,
        email="jane@acme.example",
        read_only=read_only,
        expires_at="2099-01-01T00:00:00Z",
    )


def bill_group(billing_contact: Contact | None = None) -> BillGroup:
    return BillGroup.model_validate(
        {
            "bill_group_id": "bg_1",
            "account_id": "acc_1",
            "account_name": "Acme",
            "name": "Acme EU",
            "currency": "EUR",
            "contract_status": "active",
            "billing_frequency": "monthly",
            "auto_pay": True,
            "billing_contact": None if billing_contact is None else billing_contact.model_dump(),
        }
    )


def card(payment_method_id: str, *, expired: bool = False, default: bool = False) -> PaymentMethod:
    return PaymentMethod.model_validate(
        {
            "payment_method_id": payment_method_id,
            "bill_group_id": "bg_1",
            "type": "card",
            "brand": "Visa",
            "last4": "4242",
            "exp_month": 1,
            "exp_year": 2020 if expired else 2099,
            "is_default": default,
            "expired": expired,
        }
    )


def invoice(invoice_id: str, status: str = "open", document: bool = True) -> Invoice:
    return Invoice.model_validate(
        {
            "invoice_id": invoice_id,
            "bill_group_id": "bg_1",
            "number": f"INV-{invoice_id}",
            "status": status,
            "issue_date": "2026-11-01",
            "due_date": "2026-11-30",
            "currency": "EUR",
            "subtotal_minor": 1000,
            "tax_minor": 190,
            "total_minor": 1190,
            "amount_due_minor": 1190,
            "amount_paid_minor": 0,
            "document": {"bucket": "docs", "key": f"{invoice_id}.pdf", "filename": 'a"b/c.pdf'}
            if document
            else None,
        }
    )


@dataclass
class FakeBilling:
    """billing-view for ONE bill group: another bill group's ids answer NotFoundError."""

    group: BillGroup = field(default_factory=bill_group)
    methods: list[PaymentMethod] = field(default_factory=list)
    invoices_by_id: dict[str, Invoice] = field(default_factory=dict)
    changes: dict[str, ActivityItem] = field(default_factory=dict)
    invoice_queries: list[tuple[str | None, int, str | None]] = field(default_factory=list)
    pages: list[str] = field(default_factory=list)
    # Idempotency keys: (tenant, bill group, key) -> [change id, fingerprint, published,
    # leased]; a leased unpublished key is another caller's to publish.
    keys: dict[tuple[str, str, str], list[Any]] = field(default_factory=dict)

    async def claim_key(
        self, tenant_id: str, bill_group_id: str, key: str, fingerprint: str, change_id: str
    ) -> ChangeKey:
        held = self.keys.setdefault(
            (tenant_id, bill_group_id, key), [change_id, fingerprint, False, False]
        )
        publish = not held[2] and not held[3] and held[1] == fingerprint
        held[3] = held[3] or publish
        return ChangeKey(change_id=held[0], fingerprint=held[1], published=held[2], publish=publish)

    async def settle_key(
        self, tenant_id: str, bill_group_id: str, key: str, published: bool
    ) -> None:
        held = self.keys[(tenant_id, bill_group_id, key)]
        held[2], held[3] = published, False

    async def page(
        self,
        tenant_id: str,
        bill_group_id: str,
        page: str,
        params: dict[str, str | int] | None = None,
    ) -> PortalPage:
        """billing-view's `…/pages/{page}`: one call, the branding and the page's parts."""
        self._scoped(bill_group_id)
        self.pages.append(page)
        params = params or {}
        branding = await self.branding(tenant_id, bill_group_id)
        if page.startswith("changes/"):
            found = self.changes.get(unquote(page.removeprefix("changes/")))
            return PortalPage(branding=branding, change=found)
        parts: dict[str, Any] = {}
        if page in ("overview", "billing-details", "contacts"):
            parts["overview"] = await self.overview(tenant_id, bill_group_id)
        if page in ("billing-details", "payment-methods"):
            parts["payment_methods"] = list(self.methods)
        if page == "subscriptions":
            parts["subscriptions"] = []
        if page == "activity":
            parts["activity"] = list(self.changes.values())
        if page == "invoices":
            cursor = params.get("cursor")
            parts["invoices"] = await self.invoices(
                tenant_id,
                bill_group_id,
                str(params.get("status")),
                int(params.get("limit", 20)),
                None if cursor is None else str(cursor),
            )
        return PortalPage(branding=branding, **parts)

    def _scoped(self, bill_group_id: str) -> None:
        if bill_group_id != self.group.bill_group_id:
            raise NotFoundError(NOT_FOUND)

    async def overview(self, tenant_id: str, bill_group_id: str) -> Overview:
        self._scoped(bill_group_id)
        return Overview(
            bill_group=self.group,
            entity=Entity(entity_id="e1", name="Seller GmbH"),
            summary=Summary(),
            pending_changes=[c for c in self.changes.values() if c.status == "pending"],
        )

    async def branding(self, tenant_id: str, bill_group_id: str) -> Branding:
        self._scoped(bill_group_id)
        return (await self.overview(tenant_id, bill_group_id)).branding

    async def subscriptions(self, tenant_id: str, bill_group_id: str) -> list[Subscription]:
        self._scoped(bill_group_id)
        return []

    async def payment_methods(self, tenant_id: str, bill_group_id: str) -> list[PaymentMethod]:
        self._scoped(bill_group_id)
        return list(self.methods)

    async def payment_method(
        self, tenant_id: str, bill_group_id: str, payment_method_id: str
    ) -> PaymentMethod:
        self._scoped(bill_group_id)
        for method in self.methods:
            if method.payment_method_id == payment_method_id:
                return method
        raise NotFoundError(NOT_FOUND)

    async def invoices(
        self,
        tenant_id: str,
        bill_group_id: str,
        statuses: str | None,
        limit: int,
        cursor: str | None,
    ) -> InvoicePage:
        self._scoped(bill_group_id)
        self.invoice_queries.append((statuses, limit, cursor))
        wanted = set((statuses or "").split(","))
        items = [i for i in self.invoices_by_id.values() if i.status in wanted]
        return InvoicePage(items=items[:limit])

    async def invoice(self, tenant_id: str, bill_group_id: str, invoice_id: str) -> Invoice:
        self._scoped(bill_group_id)
        if invoice_id not in self.invoices_by_id:
            raise NotFoundError(NOT_FOUND)
        return self.invoices_by_id[invoice_id]

    async def activity(
        self, tenant_id: str, bill_group_id: str, limit: int = 50
    ) -> list[ActivityItem]:
        self._scoped(bill_group_id)
        return list(self.changes.values())[:limit]

    async def change(self, tenant_id: str, bill_group_id: str, change_id: str) -> ActivityItem:
        self._scoped(bill_group_id)
        if change_id not in self.changes:
            raise NotFoundError(NOT_FOUND)
        return self.changes[change_id]


@dataclass
class FakePublisher:
    """Kafka: records what was published; with `billing`, billing-view sees each change at
    once (as pending); with `fail`, nothing is acknowledged."""

    billing: FakeBilling | None = None
    fail: bool = False
    published: list[tuple[Session, BaseModel]] = field(default_factory=list)

    async def publish(self, session: Session, payload: BaseModel) -> None:
        if self.fail:
            raise PublishError("KafkaConnectionError")
        self.published.append((session, payload))
        if self.billing is not None:
            change_id = str(payload.model_dump()["change_id"])
            self.billing.changes[change_id] = ActivityItem(
                change_id=change_id,
                kind=type(payload).__name__,
                actor_email=session.email,
                after=payload.model_dump(mode="json"),
                requested_at="2026-11-26T10:00:00+00:00",
            )


@dataclass
class FakeDocuments:
    files: dict[tuple[str, str], bytes] = field(default_factory=dict)
    opened: list[tuple[str, str]] = field(default_factory=list)

    async def open(self, bucket: str, key: str) -> AsyncIterator[bytes]:
        self.opened.append((bucket, key))
        if (bucket, key) not in self.files:
            raise NotFoundError(NOT_FOUND)
        content = self.files[(bucket, key)]

        async def chunks() -> AsyncIterator[bytes]:
            yield content

        return chunks()


def refusal(status: int, error: str, **extra: int | str) -> RefusedError:
    return RefusedError(status, Refusal.model_validate({"error": error, **extra}))


@dataclass
class FakeAccess:
    """access: portals by key, scripted refusals, the admin API of one bill group."""

    portals: dict[str, PortalInfo] = field(default_factory=dict)
    refuse_signin: RefusedError | None = None
    refuse_verify: RefusedError | None = None
    signed_out: list[str] = field(default_factory=list)
    requests: list[tuple[str, str, str]] = field(default_factory=list)
    grant: Grant | None = None
    refuse_link: RefusedError | None = None
    consumed: list[bool] = field(default_factory=list)
    account: AccountPortals = field(default_factory=AccountPortals)
    admin: AdminPortal | None = None
    refuse_admin: RefusedError | None = None
    preview_url: str = "http://127.0.0.1:8000/p/key_1/preview/tok_1"
    admin_calls: list[tuple[str, str]] = field(default_factory=list)
    relayed: list[tuple[str, str, bytes, dict[str, str]]] = field(default_factory=list)

    def _session(self, read_only: bool = False) -> Session:
        return session(read_only=read_only)

    async def portal(self, portal_key: str) -> PortalInfo:
        if portal_key not in self.portals:
            raise NotFoundError(NOT_FOUND)
        return self.portals[portal_key]

    async def request_signin(self, portal_key: str, email: str, client_ip: str) -> SigninPending:
        self.requests.append((portal_key, email, client_ip))
        if self.refuse_signin is not None:
            raise self.refuse_signin
        return SigninPending(pending_id="pend_1")

    async def verify_link(self, token: str) -> Session:
        if self.refuse_verify is not None:
            raise self.refuse_verify
        return self._session()

    async def verify_code(self, pending_id: str, code: str) -> Session:
        if self.refuse_verify is not None:
            raise self.refuse_verify
        return self._session()

    async def redeem_preview(self, preview_token: str) -> Session:
        if self.refuse_verify is not None:
            raise self.refuse_verify
        return self._session(read_only=True)

    async def signout(self, session_token: str) -> None:
        self.signed_out.append(session_token)

    # --- staff ---------------------------------------------------------------------------

    async def redeem_staff_link(self, params: dict[str, str], *, consume: bool) -> Grant:
        self.consumed.append(consume)
        if self.refuse_link is not None:
            raise self.refuse_link
        assert self.grant is not None
        return self.grant

    async def account_portals(self, tenant_id: str, account_id: str) -> AccountPortals:
        return self.account

    def _admin(self, action: str, bill_group_id: str) -> None:
        if self.admin is None or bill_group_id != self.admin.bill_group_id:
            raise NotFoundError(NOT_FOUND)
        if self.refuse_admin is not None:
            raise self.refuse_admin
        self.admin_calls.append((action, bill_group_id))

    async def admin_portal(self, staff: object, bill_group_id: str) -> AdminPortal:
        self._admin("get", bill_group_id)
        assert self.admin is not None
        return self.admin

    async def admin_switch(self, staff: object, bill_group_id: str, enabled: bool) -> AdminPortal:
        self._admin(f"switch:{enabled}", bill_group_id)
        assert self.admin is not None
        return self.admin

    async def admin_add_rule(self, staff: object, bill_group_id: str, rule: BaseModel) -> None:
        self._admin(f"add:{rule.model_dump()}", bill_group_id)

    async def admin_remove_rule(self, staff: object, bill_group_id: str, rule_id: str) -> None:
        self._admin(f"remove:{rule_id}", bill_group_id)

    async def admin_rotate_link(self, staff: object, bill_group_id: str) -> None:
        self._admin("rotate", bill_group_id)

    async def admin_preview(self, staff: object, bill_group_id: str) -> PreviewLink:
        self._admin("preview", bill_group_id)
        return PreviewLink(preview_url=self.preview_url)

    async def admin_sessions(self, staff: object, bill_group_id: str) -> AdminSessions:
        self._admin("sessions", bill_group_id)
        return AdminSessions()

    async def admin_revoke_sessions(
        self, staff: object, bill_group_id: str, session_id: str | None = None
    ) -> None:
        self._admin(f"revoke:{session_id}", bill_group_id)

    async def admin_audit(self, staff: object, bill_group_id: str) -> AuditLog:
        self._admin("audit", bill_group_id)
        return AuditLog()

    async def forward_admin(
        self,
        method: str,
        path: str,
        params: Sequence[tuple[str, str]],
        content: bytes,
        headers: dict[str, str],
    ) -> Forwarded:
        self.relayed.append((method, path, content, headers))
        answer_headers = {"content-type": "application/json", "set-cookie": "x=1", "etag": "e1"}
        return Forwarded(200, answer_headers, b"{}")


TODAY = date(2026, 11, 26)


def offline_settings() -> Settings:
    """A gateway whose neighbours are nowhere: access, billing-view and Kafka on loopback ports
    nothing listens on (every call fails fast, as when they are away)."""
    nowhere = f"http://127.0.0.1:{free_port()}"
    return Settings(
        kafka_bootstrap=f"127.0.0.1:{free_port()}",
        access_url=nowhere,
        billing_view_url=nowhere,
        upstream_timeout_seconds=1,
    )


def profile_change(of: Session) -> BillingProfileChangeRequested:
    return BillingProfileChangeRequested(
        change_id="chg_0123456789abcdef0123456789abcdef",
        bill_group_id=of.bill_group_id,
        actor_email=of.email,
        billing_profile=BillingProfile(po_number="PO-1"),
    )
