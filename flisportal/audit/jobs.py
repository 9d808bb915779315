"""RQ jobs of the audit app."""

from __future__ import annotations

from flisportal.audit.login_failures import login_failures_summarise
from flisportal.audit.services import audit_verify_and_alert


def verify_audit_chain() -> dict[str, object]:
    """RQ cron (daily, AUDIT_VERIFY_CRON): verifies the chain; mails administrators on a break."""
    result = audit_verify_and_alert()
    return {"checked": result.checked, "problems": result.problems[:20]}


def summarise_login_failures() -> dict[str, object]:
    """RQ cron (every AXES_COOLOFF_MINUTES): the counts of repeated failed logins of the windows
    that have closed, one audit row each (flisportal/audit/login_failures.py)."""
    return {"written": login_failures_summarise()}
