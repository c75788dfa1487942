from django.urls import path

from bots.views import telegram_webhook

urlpatterns = [path("telegram/<str:path_secret>/", telegram_webhook, name="telegram-webhook")]
