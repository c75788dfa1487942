"""The kernel: base model, audit record, request context, errors and health checks."""
