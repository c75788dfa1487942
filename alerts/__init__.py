"""Alerts: CAP 1.2 alerts, two-person approval, targeting, dispatch, deliveries, replies and citizen reports."""
