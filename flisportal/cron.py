"""Periodic jobs for RQ's cron scheduler (`manage.py rqcron flisportal.cron`).

Each later feature registers its own job here with an interval from the settings.
"""

from rq import cron  # noqa: F401
