"""TEMPORARY while the pages are written: every route here is replaced by its real view before this lands."""

from django.http import HttpRequest, HttpResponse


def page(request: HttpRequest) -> HttpResponse:
    return HttpResponse("Not written yet.", status=501)
