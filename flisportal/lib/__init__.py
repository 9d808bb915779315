"""The leaf library: helpers every app may use. Nothing here imports an app of the portal
(routes, deliveries, audit, notifications, front); import-linter holds that line."""
