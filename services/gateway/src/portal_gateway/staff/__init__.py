"""The staff console: the merchant's pages under /staff (issue 9)."""
