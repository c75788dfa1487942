"""The console's start page: the sections the person's roles open."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from web.views.common import console_required


@console_required()
@require_GET
def index(request: HttpRequest) -> HttpResponse:
    return render(request, "console/index.html")
