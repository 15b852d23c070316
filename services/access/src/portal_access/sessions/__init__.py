"""Sessions: customer and preview sessions, idle and absolute expiry, server-side revocation."""
