"""Infrastructure for tests: plain functions and classes, no fixtures (those are in
tests/fixtures/) and no rows of the registry (tests/factories.py).

- `processes`: the repository root, the children of a process, stopping one.
- `net`: a free loopback port; a TCP proxy that can slow or cut a connection.
- `redis`: a private redis-server.
- `workers`: real `manage.py rqworker` processes sharing the test's Redis and database.
- `clock`: Copenhagen wall-clock times for `time_machine`.
- `lifecycle`: moving a delivery through its statuses by the one status writer.
- `standin`: the Serviceplatform stand-in's parties, a paramiko client, triggers and receipts;
  `standin_paused`: the stand-in as a process that stops half-way through a distribution.
- `pushing`: deliveries ready to push, the sender's folders on the stand-in.
- `fetching`: files and metadata placed in a recipient's IN/ for the Hent side.
- `sshd`: a private OpenSSH server (also used by benchmarks/push.py).
- `portal_urls`: every named portal URL, walked from the URL configuration, with its
  arguments filled from a tenant's objects.
- `pages`: reading tables and CSV downloads out of responses.
- `mail`: a mail backend that fails like an unreachable SMTP server.
- `audit`: tampering with the audit tables as their owner could (past PostgreSQL's trigger).
"""
