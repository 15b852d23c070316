"""The portal slice's edges: `pages` (server-rendered HTML) and `api` (JSON, `/api/portal/v1`)."""
