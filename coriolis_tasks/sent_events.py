"""The sender's ``task-sent`` event names a task as the workers' events do.

A stage is published under its registered name (``coriolis.stage.export``) with a readable display
name, Celery's ``shadow`` (``export mig=… vm=… disk=…``). Workers report the display name; Celery's
sender reports the registered one in ``task-sent``. Flower keeps the fields of whichever event it
reads last when that event is ``task-sent`` (it comes from another process and may trail the worker's
``task-received``), so a task could show under its bare registered name. Here the sent event carries
the display name too.
"""

from __future__ import annotations

from typing import Any

from celery.app.amqp import AMQP


class NamedSentEvents(AMQP):
    """Celery's AMQP helper whose protocol-2 messages put the display name in the sent event."""

    def as_task_v2(self, *args: Any, **kwargs: Any):  # noqa: ANN201 - Celery's task_message tuple
        message = super().as_task_v2(*args, **kwargs)
        shadow = message.headers.get("shadow")
        if shadow and message.sent_event is not None:
            message.sent_event["name"] = shadow
        return message
