"""The admin API edge: /api/admin/v1/* relayed to access unchanged."""
