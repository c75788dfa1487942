"""Writes of the alerts app, by sub-domain: drafting and lifecycle, dispatch, replies, CAP import, sensors."""
