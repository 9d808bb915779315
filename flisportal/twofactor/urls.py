from django.urls import path

from flisportal.twofactor import views

app_name = "twofactor"
urlpatterns = [
    path("2fa/", views.manage, name="manage"),
    path("2fa/opret/", views.enrol, name="enrol"),
    path("2fa/kode/", views.verify, name="verify"),
    path("2fa/gendannelseskoder/", views.recovery_codes_shown, name="recovery_codes_shown"),
    path("2fa/gendannelseskoder/nye/", views.recovery_codes_renew, name="recovery_codes_renew"),
    path("2fa/app/<int:pk>/fjern/", views.device_remove, name="device_remove"),
    path("2fa/noegle/ny/", views.securitykey_register_begin, name="securitykey_register_begin"),
    path("2fa/noegle/gem/", views.securitykey_register_finish, name="securitykey_register_finish"),
    path("2fa/noegle/log-ind/", views.securitykey_login_begin, name="securitykey_login_begin"),
    path("2fa/noegle/svar/", views.securitykey_login_finish, name="securitykey_login_finish"),
    path("2fa/noegle/<int:pk>/fjern/", views.securitykey_remove, name="securitykey_remove"),
    path("sessioner/", views.my_sessions, name="sessions"),
    path("sessioner/<int:pk>/afslut/", views.my_session_end, name="session_end"),
    path("brugere/<int:pk>/sessioner/", views.user_sessions, name="user_sessions"),
    path("brugere/<int:pk>/luk/", views.user_offboard_view, name="user_offboard"),
    path(
        "brugere/<int:pk>/2fa/fjern/",
        views.user_second_factor_reset,
        name="user_second_factor_reset",
    ),
]
