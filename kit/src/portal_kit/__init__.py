"""The runtime kit every portal service runs on: logs, settings, ops routes, serving,
the consumer policy and the dead-letter helper. Not part of the wire contract."""
