"""Outbound adapters: the ONE HTTP client of access, the client of billing-view, the Kafka
publisher of customer changes and the S3 store of invoice PDFs. Every answer is decoded into
a typed model owned by the gateway (`clients.models`, `portal.models`)."""
