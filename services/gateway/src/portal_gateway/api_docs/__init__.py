"""The API documents the gateway serves (portal API, admin API) and their self-hosted docs UI."""
