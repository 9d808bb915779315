from datetime import timedelta

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.utils import timezone

from flisportal.jobs import clear_expired_sessions


@pytest.mark.django_db
def test_expired_sessions_are_cleared_and_live_ones_kept():
    live = SessionStore()
    live.create()
    old = SessionStore()
    old.create()
    Session.objects.filter(session_key=old.session_key).update(
        expire_date=timezone.now() - timedelta(days=1)
    )
    assert clear_expired_sessions() == 1
    assert list(Session.objects.values_list("session_key", flat=True)) == [live.session_key]
