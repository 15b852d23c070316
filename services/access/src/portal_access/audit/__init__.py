"""Audit: who did what to a bill group's portal, newest first (written by every feature)."""
