"""Backup and restore of the access database (`portal-access backup` / `restore`).

Access holds what Kafka cannot give back (rules, API keys, staff-link secrets, sessions, the
audit), so it is dumped and restored as it is stored, byte for byte, in the layout
`mongodump` writes and `mongorestore --dir` reads: `<dir>/<database>/<collection>.bson` (the
documents, BSON one after the other) and `<collection>.metadata.json` (options and indexes,
Extended JSON). See "Backup and restore of the access database" in deploy/README.md.
"""
