"""Accounts: people, organisations, areas, roles over areas, agreements, consent and subscriptions."""
