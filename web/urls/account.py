"""Routes of signing up, in and out, the language, the first steps and the profile."""

from django.urls import URLPattern, URLResolver, path

from web.views import account

urlpatterns: list[URLPattern | URLResolver] = [
    path("signup/", account.signup, name="signup"),
    path("login/", account.LoginView.as_view(), name="login"),
    path("logout/", account.LogoutView.as_view(), name="logout"),
    path("language/", account.language, name="language"),
    path("welcome/", account.welcome, name="welcome"),
    path("me/", account.profile, name="profile"),
    path("me/location/", account.location, name="profile-location"),
    path("me/areas/", account.area_add, name="profile-area-add"),
    path("me/areas/<int:subscription_id>/remove/", account.area_remove, name="profile-area-remove"),
    path("me/needs/", account.needs, name="profile-needs"),
    path("me/consents/<str:purpose>/withdraw/", account.consent_withdraw, name="profile-consent-withdraw"),
    path("me/erase/", account.erase, name="profile-erase"),
]
