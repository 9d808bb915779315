"""RQ jobs of the audit app."""

from __future__ import annotations

from flisportal.audit.login_failures import login_failures_summarise
from flisportal.audit.services import audit_export_head, audit_verify_and_alert


def verify_audit_chain() -> dict[str, object]:
    """RQ cron (daily, AUDIT_VERIFY_CRON): verifies the chain, against the heads file when there
    is one; mails administrators on a break."""
    result = audit_verify_and_alert()
    return {"checked": result.checked, "problems": result.problems[:20]}


def export_audit_head() -> dict[str, object]:
    """RQ cron (daily, AUDIT_HEAD_EXPORT_CRON): the chain's head to the log stream and the heads
    file."""
    export = audit_export_head()
    if export is None:
        return {"seq": None}
    return {"seq": export.seq, "hash": export.hash, "destination": export.destination}


def summarise_login_failures() -> dict[str, object]:
    """RQ cron (every AXES_COOLOFF_MINUTES): the counts of repeated failed logins of the windows
    that have closed, one audit row each (flisportal/audit/login_failures.py)."""
    return {"written": login_failures_summarise()}
