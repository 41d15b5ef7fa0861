"""The use cases: the command table, the operations, status and daemon state."""
