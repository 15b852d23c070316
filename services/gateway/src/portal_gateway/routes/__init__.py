"""HTTP surface of the gateway: pages, JSON API, admin edge, dev tools."""
