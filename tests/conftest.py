pytest_plugins = ["portal_localstack.testing"]
