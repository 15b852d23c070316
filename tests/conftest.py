pytest_plugins = ["portal_localstack.testing", "tests.support.browser"]
