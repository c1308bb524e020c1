"""The sender's ``task-sent`` event carries a stage's display name, so Flower shows it whatever the events' order."""

from __future__ import annotations

import time

from celery.events.state import State

from coriolis_tasks.app import celery_app


def _message(shadow: str | None):
    return celery_app.amqp.create_task_message(
        "t-1", "coriolis.stage.export", ("t-1",), {}, create_sent_event=True, shadow=shadow
    )


def test_the_sent_event_names_the_task_by_its_display_name():
    message = _message("export mig=0123abcd vm=web-1 disk=disk0")
    assert message.headers["task"] == "coriolis.stage.export"  # what workers route and run by is unchanged
    assert message.headers["shadow"] == "export mig=0123abcd vm=web-1 disk=disk0"
    assert message.sent_event["name"] == "export mig=0123abcd vm=web-1 disk=disk0"
    assert message.sent_event["uuid"] == "t-1"


def test_a_task_without_display_name_keeps_its_registered_name():
    assert _message(None).sent_event["name"] == "coriolis.stage.export"


def test_a_sent_event_read_after_the_workers_events_keeps_the_display_name():
    """Flower's state (Celery's ``State``) reading ``task-received`` and ``task-started`` before ``task-sent``."""
    message = _message("export mig=0123abcd vm=web-1 disk=disk0")
    state = State()
    now = time.time()
    worker = {"hostname": "export-1@host", "clock": 1, "local_received": now, "pid": 1}
    state.event({**worker, "type": "task-received", "uuid": "t-1", "timestamp": now,
                 "name": "export mig=0123abcd vm=web-1 disk=disk0"})
    state.event({**worker, "type": "task-started", "uuid": "t-1", "timestamp": now + 0.1, "clock": 2})
    sent = {**message.sent_event, "type": "task-sent", "hostname": "api@host", "clock": 3,
            "timestamp": now - 0.1, "local_received": now + 0.2, "pid": 2}
    state.event(sent)
    task = state.tasks["t-1"]
    assert task.state == "STARTED"
    assert task.name == "export mig=0123abcd vm=web-1 disk=disk0"
