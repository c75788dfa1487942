"""Signals other apps listen to, so that alerts never imports them."""

from django.dispatch import Signal

# Sent inside the issuing transaction with `alert`, once the alert is issued (by a person or automatically).
# Receivers that act on it do so after commit.
alert_issued = Signal()
