"""Who calls: tenant-scoped admin API keys (stored hashed) and the internal token."""
