"""The operations doc's sizing tables are the measured ones, not an edited copy."""

from __future__ import annotations

import bson

from portal_contracts.examples import EXAMPLES

from .conftest import DEPLOY, load_script


def test_readme_sizing_tables_match_a_fresh_measurement() -> None:
    sizing = load_script(DEPLOY / "sizing.py", "portal_deploy_sizing")
    text = (DEPLOY / "README.md").read_text()
    assert sizing.readme_section(text) == sizing.tables().strip(), (
        "run python deploy/sizing.py --readme"
    )


def test_measured_documents_are_plausible() -> None:
    sizing = load_script(DEPLOY / "sizing.py", "portal_deploy_sizing")
    for event_type in sizing.PER_BILL_GROUP:
        measured = sizing.measure(event_type)
        # The read-model document holds the whole payload plus keys: never smaller than
        # the payload alone, and far below MongoDB's 16 MiB document limit.
        payload = bson.encode(EXAMPLES[(event_type, 1)])
        assert len(payload) < measured.document_bytes < 64 * 1024
        assert measured.index_entry_bytes > 0
