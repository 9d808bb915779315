"""A delivery's lifecycle: its statuses, the transitions between them, the named groups of
states, and the one writer of status changes (with their event and audit rows)."""
