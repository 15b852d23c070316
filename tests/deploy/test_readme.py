"""The operations doc's sizing tables are the measured ones, not an edited copy."""

from __future__ import annotations

from .conftest import DEPLOY, load_script


def test_readme_sizing_tables_match_a_fresh_measurement() -> None:
    sizing = load_script(DEPLOY / "sizing.py", "portal_deploy_sizing")
    text = (DEPLOY / "README.md").read_text()
    assert sizing.readme_section(text) == sizing.tables().strip(), (
        "run python deploy/sizing.py --readme"
    )


def test_measured_documents_are_plausible() -> None:
    sizing = load_script(DEPLOY / "sizing.py", "portal_deploy_sizing")
    measured = {kind: sizing.measure(kind) for kind in sizing.DOCUMENTS_PER_BILL_GROUP}
    for row in measured.values():
        # Every document holds at least its key and a state; all stay far below MongoDB's
        # 16 MiB document limit at the target shape.
        assert 64 < row.document_bytes < 1024 * 1024
        assert row.index_entry_bytes > 0
    # The portal view carries an entry per invoice (computed pattern): bigger than one invoice.
    assert measured["portal_view"].document_bytes > measured["invoice"].document_bytes
