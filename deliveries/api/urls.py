from django.contrib.auth.decorators import login_required
from django.urls import path
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularRedocView,
    SpectacularSwaggerSplitView,
)

from deliveries.api import pages, views

app_name = "api"
urlpatterns = [
    path("konto/api-noegler/", pages.tokens, name="tokens"),
    path("konto/api-noegler/<int:token_id>/tilbagekald/", pages.token_revoke, name="token_revoke"),
    path("api/v1/routes/", views.RouteList.as_view(), name="routes"),
    path("api/v1/expected/", views.ExpectedList.as_view(), name="expected"),
    path("api/v1/deliveries/", views.DeliveryList.as_view(), name="deliveries"),
    path(
        "api/v1/deliveries/<uuid:delivery_uuid>/", views.DeliveryDetail.as_view(), name="delivery"
    ),
    path(
        "api/v1/deliveries/<uuid:delivery_uuid>/report/",
        views.DeliveryReport.as_view(),
        name="delivery_report",
    ),
    path(
        "api/v1/deliveries/<uuid:delivery_uuid>/report.csv",
        views.DeliveryReportCsv.as_view(),
        name="delivery_report_csv",
    ),
    path(
        "api/v1/deliveries/<uuid:delivery_uuid>/file/",
        views.DeliveryFile.as_view(),
        name="delivery_file",
    ),
    path("api/v1/checks/", views.CheckCreate.as_view(), name="checks"),
    path("api/v1/checks/<uuid:check_uuid>/", views.CheckDetail.as_view(), name="check"),
    path("api/v1/receipts/", views.ReceiptList.as_view(), name="receipts"),
    path("api/v1/receipts/<uuid:receipt_uuid>/", views.ReceiptDetail.as_view(), name="receipt"),
    path(
        "api/v1/receipts/<uuid:receipt_uuid>/file/",
        views.ReceiptFile.as_view(),
        name="receipt_file",
    ),
    # The schema and its two readers, for people signed in to the portal; Swagger UI and
    # Redoc come from the installed drf-spectacular-sidecar package (no CDN). The split view
    # serves Swagger UI's start-up script as a file, as the portal's CSP refuses inline ones.
    path("api/v1/schema/", login_required(SpectacularAPIView.as_view()), name="schema"),
    path(
        "api/v1/docs/",
        pages.docs_page(SpectacularSwaggerSplitView.as_view(url_name="api:schema")),
        name="docs",
    ),
    path(
        "api/v1/redoc/",
        pages.docs_page(SpectacularRedocView.as_view(url_name="api:schema")),
        name="redoc",
    ),
    # Last: any other path under /api/v1/ is a 404 problem.
    path("api/v1/<path:rest>", views.NoSuchEndpoint.as_view(), name="no_such_endpoint"),
]
