"""Talking to Telegram: the Bot API client (api), the shared rate limiter (ratelimit), text splitting (text) and
the alert transport (transport)."""
