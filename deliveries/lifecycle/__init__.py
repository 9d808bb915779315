"""A delivery's lifecycle: its statuses, the transitions between them and the named groups of
states (`states`), and the one writer of status changes and events with their audit rows
(`transitions`)."""
