from django.urls import path

from flisportal.sso import views

app_name = "sso"

urlpatterns = [
    path("logout/", views.sso_logout, name="logout"),
    path("<slug:slug>/", views.sso_start, name="start"),
    path("<slug:slug>/callback/", views.sso_callback, name="callback"),
]
