"""The suite's root. Where things are:

- tests/fixtures/: the shared fixtures, loaded below as plugins, so every test can ask for any
  of them by name. A folder's own conftest.py holds only what that folder alone uses.
- tests/factories.py: rows made directly (kommuner, vendors, IT-systems, users per persona,
  agreements, routes, deliveries) and synthetic extracts.
- tests/helpers/: infrastructure (the stand-in, sshd, Redis, worker processes, ports, clocks).
- One folder per home of the code: tests/lib, tests/routes, tests/deliveries, tests/hent,
  tests/serviceplatform, tests/audit, tests/notifications, tests/front; and across the code
  tests/flisportal (settings, checks, login, the access matrix), tests/hostile (security) and
  tests/e2e (a real browser).

Test modules import from factories and helpers, never from another test module
(tests/test_layout.py checks it).
"""

pytest_plugins = [
    "tests.fixtures.isolation",
    "tests.fixtures.personas",
    "tests.fixtures.registry",
    "tests.fixtures.deliveries",
    "tests.fixtures.services",
    "tests.fixtures.standin",
    "tests.fixtures.twofactor",
    "tests.fixtures.api",
    "tests.fixtures.sso",
    "tests.fixtures.objectstore",
    "tests.fixtures.browser",
]
