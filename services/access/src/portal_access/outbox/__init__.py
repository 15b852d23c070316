"""Events owed by a state change, embedded in the changed document, and their relay to Kafka.

A state change and the events it owes are one MongoDB update (`$push` onto the document's
`outbox` together with the `$set` of the state), so an event exists exactly when its state
change does. The relay reads owed entries through `OutboxRepository`, publishes them with the
injected publisher (acks=all), then clears them; a crash between the two publishes an entry
once more with the same `event_id` (consumers deduplicate).
"""
