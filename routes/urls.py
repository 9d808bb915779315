from django.urls import path

from routes import views

app_name = "routes"
urlpatterns = [
    path("ruter/", views.route_orders, name="route_orders"),
    path("ruter/massebestilling/", views.route_bulk_order, name="route_bulk_order"),
    path("ruter/statusskift/", views.route_bulk_transition, name="route_bulk_transition"),
    path("ruter/kommune/<str:code>/", views.kommune_routes, name="kommune_routes"),
    path("ruter/kommune/<str:code>/bestil/", views.route_order_create, name="route_order_create"),
    path("ruter/<int:pk>/", views.route_detail, name="route_detail"),
    path("ruter/<int:pk>/status/", views.route_transition, name="route_transition"),
    path("leverandoer/", views.vendor_overview, name="vendor_overview"),
    path("leverandoer/<int:pk>/", views.vendor_overview, name="vendor_overview_for"),
    path("sftp/<int:pk>/", views.sftp_user_detail, name="sftp_user_detail"),
    path("sftp/<int:pk>/dan/", views.sftp_key_generate, name="sftp_key_generate"),
    path("sftp/<int:pk>/roter/", views.sftp_key_rotate, name="sftp_key_rotate"),
    path("sftp/<int:pk>/upload/", views.sftp_key_upload, name="sftp_key_upload"),
    path(
        "sftp/<int:pk>/bekraeft-rotation/",
        views.sftp_key_confirm_rotation,
        name="sftp_key_confirm_rotation",
    ),
    path(
        "sftp/<int:pk>/kasser-rotation/",
        views.sftp_key_discard_rotation,
        name="sftp_key_discard_rotation",
    ),
]
