"""The Django project: settings, ASGI and Celery entry points, URL and WebSocket routing, and the kernel."""

from commsplatform.celery import app as celery_app

__all__ = ["celery_app"]
