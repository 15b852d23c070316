"""Idempotency keys of the admin API's mutating calls: a repeat replays the first answer."""
