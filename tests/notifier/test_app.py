"""The composition root maps the notifier's typed errors to HTTP in one place."""

import pytest

from portal_kit.errors import PortalError, portal_error_response
from portal_notifier.app import create_app
from portal_notifier.errors import NotAnEmailError, NotSuppressedError
from portal_notifier.settings import Settings


def test_typed_errors_answer_with_the_kits_one_error_body(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    app = create_app(Settings())
    assert app.exception_handlers[PortalError] is portal_error_response
    assert issubclass(NotAnEmailError, PortalError)
    assert (NotAnEmailError.status, NotSuppressedError.status) == (400, 404)
