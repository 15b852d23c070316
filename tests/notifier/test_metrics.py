"""The notifier's failure counter has a series for every reason before the first failure, so
that `rate(portal_notifier_emails_failed_total[10m]) > 0` fires on the first email given up."""

from __future__ import annotations

import portal_notifier.metrics  # noqa: F401 - registers the notifier's metrics
from portal_notifier.delivery.domain import Reason
from tests.support.metrics import scraped


def test_every_failure_reason_has_a_series_before_any_failure() -> None:
    for reason in Reason:
        found = scraped("portal_notifier_emails_failed_total", reason=reason.value)
        assert found is not None, reason
