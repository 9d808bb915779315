"""RQ jobs of the audit app."""

from __future__ import annotations

from flisportal.audit.services import audit_verify_and_alert


def verify_audit_chain() -> dict[str, object]:
    """RQ cron (daily, AUDIT_VERIFY_CRON): verifies the chain; mails administrators on a break."""
    result = audit_verify_and_alert()
    return {"checked": result.checked, "problems": result.problems[:20]}
