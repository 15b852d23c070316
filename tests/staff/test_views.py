"""What the staff pages make of access's answers."""

from __future__ import annotations

from portal_gateway.clients.models import AdminPortal, AdminSessions, AuditLog
from portal_gateway.staff.domain import NOTICES, contract_view, rule_form_errors, when
from portal_gateway.staff.schemas import audit_rows, rule_rows, session_rows


def test_active_contract_lets_the_portal_work() -> None:
    view = contract_view("active")
    assert view.active
    assert "switched on" in view.explanation


def test_inactive_contracts_explain_why_customers_cannot_use_the_portal() -> None:
    for status in ("ended", "suspended", "cancelled"):
        view = contract_view(status)
        assert not view.active
        assert status in view.explanation
        assert "only works while the contract is active" in view.explanation


def test_unknown_contract_is_not_active() -> None:
    view = contract_view(None)
    assert (view.status, view.active) == ("unknown", False)
    assert "has not told" in view.explanation


def test_when_formats_utc_and_tolerates_odd_values() -> None:
    assert when("2026-11-24T21:05:09Z") == "2026-11-24 21:05 UTC"
    assert when("2026-11-24T21:05:09+00:00") == "2026-11-24 21:05 UTC"
    assert when(None) == "—"
    assert when("yesterday") == "yesterday"


def test_rule_rows() -> None:
    portal = AdminPortal.model_validate(
        {
            "bill_group_id": "bg_1",
            "enabled": True,
            "rules": [
                {
                    "id": "r1",
                    "kind": "domain",
                    "value": "company.com",
                    "created_at": "2026-11-24T21:00:00Z",
                    "created_by": "ops@merchant.example",
                },
                {"id": "r2", "kind": "email", "value": "a@b.com", "created_at": None},
            ],
        }
    )
    rows = rule_rows(portal)
    assert [(r.rule_id, r.kind_label, r.value) for r in rows] == [
        ("r1", "Domain", "company.com"),
        ("r2", "Individual email", "a@b.com"),
    ]
    assert rows[0].added_by == "ops@merchant.example"
    assert rows[0].added_at == "2026-11-24 21:00 UTC"
    assert (rows[1].added_by, rows[1].added_at) == ("—", "—")
    assert rule_rows(AdminPortal(bill_group_id="bg_1", enabled=False)) == []


def test_session_rows() -> None:
    rows = session_rows(
        AdminSessions.model_validate(
            {
                "items": [
                    {
                        "session_id": "s1",
                        "email": "a@company.com",
                        "read_only": False,
                        "started_at": "2026-11-24T20:00:00Z",
                        "last_seen_at": "2026-11-24T20:10:00Z",
                    }
                ]
            }
        )
    )
    assert rows[0].session_id == "s1"
    assert (rows[0].started, rows[0].last_seen) == ("2026-11-24 20:00 UTC", "2026-11-24 20:10 UTC")
    assert not rows[0].read_only


def test_audit_rows_read_as_sentences() -> None:
    rows = audit_rows(
        AuditLog.model_validate(
            {
                "items": [
                    {
                        "at": "2026-11-24T21:00:00Z",
                        "actor": "ops@merchant.example",
                        "action": "rule.added",
                        "detail": {"rule_id": "r1", "kind": "domain", "value": "company.com"},
                    },
                    {
                        "at": "2026-11-24T21:01:00Z",
                        "actor": "ops@merchant.example",
                        "action": "rule.removed",
                        "detail": {"kind": "email", "value": "a@b.com", "sessions_ended": 2},
                    },
                    {
                        "at": None,
                        "actor": "x",
                        "action": "sessions.revoked",
                        "detail": {"session_id": "s1", "revoked": 1},
                    },
                    {
                        "at": None,
                        "actor": "x",
                        "action": "sessions.revoked",
                        "detail": {"session_id": None, "revoked": 3},
                    },
                    {"at": None, "actor": "x", "action": "something_new.happened", "detail": None},
                ]
            }
        )
    )
    assert rows[0].action == "added an access rule"
    assert rows[0].detail == "Domain company.com"
    assert rows[1].detail == "Individual email a@b.com; 2 sessions ended"
    assert (rows[2].action, rows[2].detail) == ("ended a customer session", "1 session ended")
    assert (rows[3].action, rows[3].detail) == ("ended all sessions", "3 sessions ended")
    assert rows[4].action == "something new happened"
    assert rows[4].detail == ""


def test_rule_form_errors_only_catch_what_needs_no_api() -> None:
    assert rule_form_errors("domain", "company.com") == {}
    assert rule_form_errors("email", "a@x.com, b@x.com") == {}  # access's message speaks
    assert set(rule_form_errors("", "x")) == {"kind"}
    assert "company.com" in rule_form_errors("domain", "  ")["value"]
    assert "name@company.com" in rule_form_errors("email", "")["value"]


def test_notices_are_a_closed_set() -> None:
    assert NOTICES.get("<script>") is None
    assert all(text.endswith(".") for text in NOTICES.values())
