"""Event types, their msgpack codec, pure decide functions and the event store."""
