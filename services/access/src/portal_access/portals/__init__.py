"""Portals: the contract projection, the portal switch and link, access rules, preview."""
