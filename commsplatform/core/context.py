"""Who is acting and from where, for the audit record: set per request, per task, per command."""

import contextvars
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ActionContext:
    actor_id: int | None = None
    source: str = "system"
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex)


_current: contextvars.ContextVar[ActionContext | None] = contextvars.ContextVar("action_context", default=None)


def current_context() -> ActionContext:
    return _current.get() or ActionContext()


@contextmanager
def acting_as(*, actor_id: int | None, source: str, request_id: str | None = None) -> Iterator[ActionContext]:
    """Run a block as a given actor from a given source (a request, a task, a command)."""
    ctx = ActionContext(actor_id=actor_id, source=source, request_id=request_id or uuid.uuid4().hex)
    token = _current.set(ctx)
    try:
        yield ctx
    finally:
        _current.reset(token)


def context_set_actor(actor_id: int) -> None:
    """Name the actor once the API has authenticated them (Basic auth happens after the middleware ran)."""
    ctx = current_context()
    _current.set(ActionContext(actor_id=actor_id, source=ctx.source, request_id=ctx.request_id))


def connect_celery_signals() -> None:
    """Each Celery task runs in a context that names it as the source of what it changes."""
    from celery.signals import task_postrun, task_prerun

    tokens: dict[str, contextvars.Token[ActionContext | None]] = {}

    @task_prerun.connect(weak=False)
    def _task_started(task_id: str | None = None, task: Any = None, **_: Any) -> None:
        if task_id is None:
            return
        name = getattr(task, "name", "unknown")
        tokens[task_id] = _current.set(ActionContext(actor_id=None, source=f"task:{name}", request_id=task_id))

    @task_postrun.connect(weak=False)
    def _task_finished(task_id: str | None = None, **_: Any) -> None:
        token = tokens.pop(task_id or "", None)
        if token is not None:
            _current.reset(token)
