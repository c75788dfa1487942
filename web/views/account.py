"""Residents' own pages: sign up, sign in and out, language, the first steps (consent, where, needs), the profile.

As in the bot: nothing is kept before the terms are accepted, a location only with its consent, and each need only
under its own consent. Every form is one transaction: a refused part leaves nothing half written.
"""

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import UserCreationForm
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.utils.decorators import method_decorator
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import activate, gettext_lazy
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts import selectors, services
from accounts.models import (
    NEED_CONSENT,
    AreaLevel,
    ChannelKind,
    Consent,
    ConsentPurpose,
    NeedKind,
    ResidentProfile,
    Subscription,
    User,
)
from commsplatform.core.errors import DomainError, NotFound, ValidationFailed
from commsplatform.core.throttling import rate_limited
from web.views.common import error_page, parse_point, resident_required, signed_in_user

LANGUAGE_CODES = {code for code, _name in settings.LANGUAGES}
SUBSCRIBABLE_LEVELS = (AreaLevel.CITY, AreaLevel.DISTRICT, AreaLevel.NEIGHBOURHOOD, AreaLevel.ZONE)


def _with_language(response: HttpResponse, language: str) -> HttpResponse:
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        language,
        max_age=365 * 24 * 3600,
        samesite="Lax",
        secure=settings.SESSION_COOKIE_SECURE,
    )
    return response


def _safe_next(request: HttpRequest, default: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return target
    return default


class SignupForm(UserCreationForm[User]):
    preferred_language = forms.ChoiceField(label=gettext_lazy("Language"), choices=settings.LANGUAGES)

    class Meta(UserCreationForm.Meta):  # type: ignore[name-defined]
        model = User
        fields = ("username",)


@rate_limited("signup")
def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("web:welcome")
    form = SignupForm(request.POST or None, initial={"preferred_language": request.LANGUAGE_CODE})
    if request.method == "POST" and form.is_valid():
        try:
            user = services.user_create(
                username=form.cleaned_data["username"],
                password=form.cleaned_data["password1"],
                preferred_language=form.cleaned_data["preferred_language"],
            )
        except DomainError as exc:
            form.add_error(None, exc.message)
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            activate(user.preferred_language)
            return _with_language(redirect("web:welcome"), user.preferred_language)
    return render(request, "web/account/signup.html", {"form": form}, status=400 if form.errors else 200)


# Sign-in attempts are limited per address and per username tried.
@method_decorator(rate_limited("login"), name="dispatch")
@method_decorator(rate_limited("login", key="post:username"), name="dispatch")
class LoginView(auth_views.LoginView):
    template_name = "web/account/login.html"
    redirect_authenticated_user = True

    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)
        return _with_language(response, form.get_user().preferred_language)


class LogoutView(auth_views.LogoutView):
    http_method_names = ["post", "options"]


@require_POST
def language(request: HttpRequest) -> HttpResponse:
    code = request.POST.get("language", "")
    target = _safe_next(request, "/")
    if code not in LANGUAGE_CODES:
        messages.error(request, _("Unknown language."))
        return HttpResponseRedirect(target)
    if request.user.is_authenticated:
        services.user_update(user=signed_in_user(request), preferred_language=code)
    return _with_language(HttpResponseRedirect(target), code)


def _areas() -> Any:
    return selectors.area_list().filter(level__in=SUBSCRIBABLE_LEVELS).order_by("level", "name")


def _need_kinds() -> list[tuple[str, str, str]]:
    return [(kind.value, str(kind.label), NEED_CONSENT[kind]) for kind in NeedKind]


def _apply_location(user: User, data: Any) -> None:
    point = parse_point(data, required=False)
    if point is None:
        return
    if data.get("consent_location") != "on":
        raise ValidationFailed(
            _("Tick the box to let us use your location, or leave the location empty."),
            fields={"consent_location": "required"},
        )
    services.consent_give(user=user, purpose=ConsentPurpose.LOCATION, version=settings.WEB_CONSENT_VERSION)
    services.resident_set_home(user=user, location=point)


def _apply_areas(user: User, area_ids: list[str]) -> None:
    if len(area_ids) > 50:
        raise ValidationFailed(_("Choose at most 50 areas."), fields={"areas": "too many"})
    followed = set(Subscription.objects.filter(user=user).values_list("area_id", flat=True))
    for raw in area_ids:
        if not raw.isdigit():
            raise ValidationFailed(_("Unknown area."), fields={"areas": "unknown"})
        area = _areas().filter(pk=int(raw)).first()
        if area is None:
            raise NotFound(_("Unknown area."))
        if area.pk not in followed:
            services.subscription_add(user=user, area=area)


def _apply_needs(user: User, data: Any) -> None:
    wanted = set(data.getlist("needs"))
    unknown = wanted - set(NeedKind.values)
    if unknown:
        raise ValidationFailed(_("Unknown need."), fields={"needs": "unknown"})
    current = set(_needs_of(user))
    for kind in sorted(wanted - current):
        services.consent_give(user=user, purpose=NEED_CONSENT[NeedKind(kind)], version=settings.WEB_CONSENT_VERSION)
        services.resident_need_set(user=user, kind=kind)
    for kind in sorted(current - wanted):
        services.resident_need_remove(user=user, kind=kind)
        services.consent_withdraw(user=user, purpose=NEED_CONSENT[NeedKind(kind)])


def _needs_of(user: User) -> list[str]:
    profile = ResidentProfile.objects.filter(user=user).first()
    return list(profile.needs.values_list("kind", flat=True)) if profile else []


@resident_required
def welcome(request: HttpRequest) -> HttpResponse:
    """The first steps: accept the terms, then say where (a location, areas, or both) and any needs."""
    user = signed_in_user(request)
    error: DomainError | None = None
    if request.method == "POST":
        try:
            if request.POST.get("accept_terms") != "on":
                raise ValidationFailed(
                    _("You need to accept the terms to receive alerts."), fields={"accept_terms": "required"}
                )
            with transaction.atomic():
                services.consent_give(user=user, purpose=ConsentPurpose.TERMS, version=settings.WEB_CONSENT_VERSION)
                services.channel_identity_link(user=user, kind=ChannelKind.WEB, external_id=f"user-{user.pk}")
                _apply_location(user, request.POST)
                _apply_areas(user, request.POST.getlist("areas"))
                _apply_needs(user, request.POST)
        except DomainError as exc:
            error = exc
        else:
            messages.success(request, _("You are set up. Alerts for your areas will appear here."))
            return redirect("web:home")
    context = {
        "error": error,
        "areas": _areas(),
        "needs": _need_kinds(),
        "posted": request.POST if request.method == "POST" else None,
        "consent_version": settings.WEB_CONSENT_VERSION,
    }
    return render(request, "web/account/welcome.html", context, status=error.status if error else 200)


@resident_required
def profile(request: HttpRequest) -> HttpResponse:
    user = signed_in_user(request)
    resident = ResidentProfile.objects.filter(user=user).first()
    context = {
        "resident": resident,
        "subscriptions": Subscription.objects.filter(user=user).select_related("area").order_by("area__name"),
        "consents": Consent.objects.filter(user=user, withdrawn_at__isnull=True).order_by("purpose"),
        "needs": _need_kinds(),
        "my_needs": set(_needs_of(user)),
        "areas": _areas(),
    }
    return render(request, "web/account/profile.html", context)


def _profile_action(request: HttpRequest, action: Any) -> HttpResponse:
    try:
        with transaction.atomic():
            action(signed_in_user(request))
    except DomainError as exc:
        return error_page(request, exc)
    messages.success(request, _("Saved."))
    return redirect("web:profile")


@require_POST
@resident_required
def location(request: HttpRequest) -> HttpResponse:
    def set_home(user: User) -> None:
        if request.POST.get("clear") == "on":
            services.resident_set_home(user=user, location=None)
            return
        if parse_point(request.POST, required=False) is None:
            raise ValidationFailed(_("Give a latitude and a longitude."), fields={"lat": "required"})
        _apply_location(user, request.POST)

    return _profile_action(request, set_home)


@require_POST
@resident_required
def area_add(request: HttpRequest) -> HttpResponse:
    return _profile_action(request, lambda user: _apply_areas(user, request.POST.getlist("areas")))


@require_POST
@resident_required
def area_remove(request: HttpRequest, subscription_id: int) -> HttpResponse:
    def remove(user: User) -> None:
        subscription = Subscription.objects.filter(pk=subscription_id, user=user).first()
        if subscription is None:
            raise NotFound(_("No such area in your list."))
        services.subscription_remove(user=user, subscription=subscription)

    return _profile_action(request, remove)


@require_POST
@resident_required
def needs(request: HttpRequest) -> HttpResponse:
    return _profile_action(request, lambda user: _apply_needs(user, request.POST))


@require_POST
@resident_required
def consent_withdraw(request: HttpRequest, purpose: str) -> HttpResponse:
    if purpose not in ConsentPurpose.values:
        return error_page(request, NotFound(_("Unknown consent.")))
    return _profile_action(request, lambda user: services.consent_withdraw(user=user, purpose=purpose))


@require_POST
@resident_required
def erase(request: HttpRequest) -> HttpResponse:
    user = signed_in_user(request)
    if request.POST.get("confirm") != user.username:
        return error_page(
            request, ValidationFailed(_("Type your user name to confirm the erasure."), fields={"confirm": "mismatch"})
        )
    services.user_erase(actor=user, user=user)
    logout(request)
    messages.success(request, _("Your account and your data have been erased."))
    return redirect("web:home")
