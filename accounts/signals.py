"""Signals other apps listen to, so that accounts never imports them."""

from django.dispatch import Signal

# Sent inside the erasing transaction with `user`: apps delete or anonymise what they hold of that person.
user_erased = Signal()
