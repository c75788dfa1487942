"""Web: server-rendered pages for residents and staff; no business logic."""
