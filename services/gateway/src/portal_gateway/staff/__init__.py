"""The staff console under /staff: portal switch, access rules, link, preview, sessions and
history of one bill group (or an account's bill groups), through access's admin API."""
