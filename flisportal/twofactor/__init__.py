"""Second factors (TOTP, recovery codes), password rules, and the sessions a user can see and end
(issue #17). Sits above the registry, beside `flisportal.front`: it reads users and their roles
and writes the audit log."""
