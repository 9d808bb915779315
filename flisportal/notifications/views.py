"""Each person's choice: immediate mails or one daily digest."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from flisportal.notifications.models import NotificationPreference


class PreferenceForm(forms.ModelForm):
    class Meta:
        model = NotificationPreference
        fields = ["cadence"]
        widgets = {"cadence": forms.RadioSelect}


@login_required
@require_http_methods(["GET", "POST"])
def preferences(request: HttpRequest) -> HttpResponse:
    # Always the signed-in person's own row: there is no id in the URL to tamper with.
    assert request.user.pk is not None  # login_required
    preference = NotificationPreference.objects.filter(user_id=request.user.pk).first()
    preference = preference or NotificationPreference(user_id=request.user.pk)
    form = PreferenceForm(request.POST or None, instance=preference)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, _("Dit valg er gemt."))
        return redirect("notifications:preferences")
    return render(request, "notifications/preferences.html", {"form": form})
