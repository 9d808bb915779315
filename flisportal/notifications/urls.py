from django.urls import path

from flisportal.notifications import views

app_name = "notifications"
urlpatterns = [path("konto/notifikationer/", views.preferences, name="preferences")]
