"""What the API reads and answers, field by field (the OpenAPI schema is built from these).

Texts stored by workers (event messages, validation messages, a receipt's reason) are given in
the reader's language through the models' `*_text` properties, as the pages show them.
"""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from drf_spectacular.utils import inline_serializer
from rest_framework import serializers

from deliveries.messages import render
from deliveries.models import (
    Delivery,
    DeliveryEvent,
    ExpectedDelivery,
    FileCheck,
    Receipt,
    ValidationIssue,
)
from routes.models import Route


class KommuneSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()


class RouteSerializer(serializers.ModelSerializer):
    kommune = KommuneSerializer()
    data_area = serializers.CharField(source="data_area.code")
    it_system = serializers.CharField(source="sender_system.name")
    endpoint = serializers.CharField(source="endpoint.slug")
    uploadable = serializers.SerializerMethodField(
        help_text="Om du kan uploade til ruten nu (underskrevet databehandleraftale)."
    )

    class Meta:
        model = Route
        fields = ["id", "kommune", "data_area", "it_system", "endpoint", "uploadable"]

    def get_uploadable(self, route: Route) -> bool:
        return route.pk in self.context["uploadable"]


class ExpectedSerializer(serializers.ModelSerializer):
    route = serializers.IntegerField(source="route_id")
    kommune = KommuneSerializer(source="route.kommune")
    data_area = serializers.CharField(source="route.data_area.code")
    state_label = serializers.CharField(source="get_state_display")

    class Meta:
        model = ExpectedDelivery
        fields = ["id", "route", "kommune", "data_area", "period", "state", "state_label", "due_at"]


class DeliverySummarySerializer(serializers.ModelSerializer):
    kommune = KommuneSerializer()
    data_area = serializers.CharField(source="data_area.code")
    status_label = serializers.CharField(source="get_status_display")
    url = serializers.SerializerMethodField()

    class Meta:
        model = Delivery
        fields = [
            "uuid",
            "url",
            "kommune",
            "data_area",
            "period",
            "status",
            "status_label",
            "error_count",
            "uploaded_at",
        ]

    def get_url(self, delivery: Delivery) -> str:
        return reverse("api:delivery", args=[delivery.uuid])


class EventSerializer(serializers.ModelSerializer):
    message = serializers.CharField(source="message_text")
    actor = serializers.SerializerMethodField()

    class Meta:
        model = DeliveryEvent
        fields = ["at", "old_status", "new_status", "actor", "message"]

    def get_actor(self, event: DeliveryEvent) -> str:
        return event.actor.get_username() if event.actor else event.actor_label


class DeliverySerializer(DeliverySummarySerializer):
    """One delivery: its status as the page polls it, its counters and its timeline."""

    route = serializers.IntegerField(source="route_id")
    it_system = serializers.CharField(source="it_system.name")
    endpoint = serializers.CharField(source="endpoint.slug")
    working = serializers.BooleanField(source="is_working")
    replaces = serializers.UUIDField(source="replaces.uuid", allow_null=True, default=None)
    last_error = serializers.CharField(source="last_error_text")
    timeline = EventSerializer(source="events", many=True)
    links = serializers.SerializerMethodField()

    class Meta(DeliverySummarySerializer.Meta):
        fields = [
            *DeliverySummarySerializer.Meta.fields,
            "route",
            "it_system",
            "endpoint",
            "original_filename",
            "size",
            "sha256",
            "redelivery_confirmed",
            "replaces",
            "working",
            "rows_checked",
            "rows_total",
            "progress_percent",
            "errors_by_rule",
            "errors_by_column",
            "validated_at",
            "sent_at",
            "receipt_at",
            "last_error",
            "timeline",
            "links",
        ]

    def get_links(self, delivery: Delivery) -> dict[str, str]:
        args = [delivery.uuid]
        return {
            "report": reverse("api:delivery_report", args=args),
            "report_csv": reverse("api:delivery_report_csv", args=args),
            "file": reverse("api:delivery_file", args=args),
            "page": reverse("deliveries:detail", args=args),
        }


class IssueSerializer(serializers.ModelSerializer):
    message = serializers.CharField(source="message_text")

    class Meta:
        model = ValidationIssue
        fields = ["row", "column", "value", "rule", "message"]


class ReceiptSerializer(serializers.ModelSerializer):
    kommune = KommuneSerializer(allow_null=True)
    data_area = serializers.CharField(source="data_area.code", allow_null=True, default=None)
    recipient_system = serializers.CharField(source="recipient_system.name")
    verdict_label = serializers.CharField(source="get_verdict_display")
    verdict_detail = serializers.CharField(source="verdict_detail_text")
    delivery = serializers.SerializerMethodField()

    class Meta:
        model = Receipt
        fields = [
            "uuid",
            "fetched_at",
            "recipient_system",
            "kommune",
            "data_area",
            "period",
            "sender",
            "file_name",
            "size",
            "sha256",
            "verdict",
            "verdict_label",
            "verdict_detail",
            "filetransfer_uuid",
            "senders_file_id",
            "delivery",
        ]

    def get_delivery(self, receipt: Receipt) -> str | None:
        """The delivery's uuid when the reader may see it (as the receipt page links it)."""
        visible: set[int] = self.context.get("visible_deliveries", set())
        if receipt.delivery is None or receipt.delivery_id not in visible:
            return None
        return str(receipt.delivery.uuid)


class UploadSerializer(serializers.Serializer):
    """The fields of an upload, as the upload form has them (the route instead of its four
    choices)."""

    route = serializers.IntegerField(help_text="Rutens id fra GET /api/v1/routes/.")
    period = serializers.CharField(max_length=20, help_text="Måneden udtrækket dækker, ÅÅÅÅ-MM.")
    file = serializers.FileField(help_text=".csv eller .zip med præcis én .csv-fil.")
    redelivery_confirmed = serializers.BooleanField(
        default=False,
        help_text="Genlevering: send filen igen, selv om præcis den samme fil er leveret før.",
    )
    replaces = serializers.UUIDField(
        required=False, help_text="En rettelse: uuid på leverancen, den retter."
    )

    def validate_period(self, value: str) -> str:
        # Only the typing is tidied, as on the form; whether it is a period is intake's rule.
        return value.strip()


class CheckSerializer(serializers.Serializer):
    """The fields of a check without sending: an upload's, less what only a delivery has."""

    route = serializers.IntegerField(help_text="Rutens id fra GET /api/v1/routes/.")
    period = serializers.CharField(max_length=20, help_text="Måneden udtrækket dækker, ÅÅÅÅ-MM.")
    file = serializers.FileField(help_text=".csv eller .zip med præcis én .csv-fil.")

    def validate_period(self, value: str) -> str:
        return value.strip()


class FileCheckSerializer(serializers.ModelSerializer):
    """A check and, once checked, its report: counts as on a delivery and the listed errors
    in the reader's language."""

    route = serializers.IntegerField(source="route_id")
    status_label = serializers.CharField(source="get_status_display")
    working = serializers.BooleanField(source="is_working")
    error_count = serializers.IntegerField()
    contract_version = serializers.CharField(source="contract.version", default=None)
    problem = serializers.SerializerMethodField()
    errors_by_rule = serializers.SerializerMethodField()
    issues = serializers.SerializerMethodField()
    url = serializers.SerializerMethodField()

    class Meta:
        model = FileCheck
        fields = [
            "uuid",
            "url",
            "route",
            "period",
            "original_filename",
            "size",
            "sha256",
            "status",
            "status_label",
            "working",
            "error_count",
            "errors_by_rule",
            "contract_version",
            "problem",
            "issues",
            "created_at",
            "checked_at",
            "expires_at",
        ]

    def get_url(self, check: FileCheck) -> str:
        return reverse("api:check", args=[check.uuid])

    def get_problem(self, check: FileCheck) -> str:
        """Why the file could not be checked at all (no contract, a crash); "" otherwise."""
        report = check.report
        return render(
            report.get("problem_code", ""),
            report.get("problem_params", {}),
            fallback=report.get("problem", ""),
        )

    def get_errors_by_rule(self, check: FileCheck) -> dict[str, int]:
        return dict(check.report.get("errors_by_rule", {}))

    def get_issues(self, check: FileCheck) -> list[dict[str, Any]]:
        return [
            {
                "row": issue.get("row"),
                "column": issue.get("column", ""),
                "value": issue.get("value", ""),
                "rule": issue.get("rule", ""),
                # As ValidationIssue.message_text: the value is a parameter of its own.
                "message": render(
                    issue.get("message_code", ""),
                    {"value": issue.get("value", ""), **issue.get("message_params", {})},
                    fallback=issue.get("message", ""),
                ),
            }
            for issue in check.report.get("issues", [])
        ]


def paged(serializer: type[serializers.Serializer]) -> serializers.Serializer:
    """The schema of a page of a list (`deliveries.api.views.Pages`): the rows under
    `results`, and the links to the pages before and after."""
    name = serializer.__name__.removesuffix("Serializer")
    return inline_serializer(
        name=f"{name}Page",
        fields={
            "count": serializers.IntegerField(),
            "next": serializers.URLField(allow_null=True),
            "previous": serializers.URLField(allow_null=True),
            "results": serializer(many=True),
        },
    )
