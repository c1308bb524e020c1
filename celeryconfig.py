"""Celery configuration: broker, routing of each stage to its worker pool, reliability settings.

Routing lives here and only here: every stage task is routed by name to the queue of its
pool (``export``, ``convert``, ``morph``, ``import``, ``boot``) and the bookkeeping tasks to
``control``. Each pool is a worker started with ``-Q <queue>``.
"""

from coriolis.config import get_settings
from coriolis_tasks.pipeline import ALL_STAGES, CONTROL_QUEUE, PLAN_QUEUE

_settings = get_settings()

broker_url = _settings.effective_broker_url
result_backend = _settings.effective_result_backend

task_routes = {
    **{f"coriolis.stage.{s.name}": {"queue": _settings.queue(s.queue)} for s in ALL_STAGES},
    "coriolis.control.plan": {"queue": _settings.queue(PLAN_QUEUE)},
    "coriolis.control.*": {"queue": _settings.queue(CONTROL_QUEUE)},
}
task_default_queue = _settings.queue(CONTROL_QUEUE)
# task modules beyond the app's ``include`` list
imports = ("coriolis_tasks.reaper",)

# Stages are idempotent, so a task is acknowledged only once it has finished: a worker that
# dies mid-stage has its task redelivered. Redis redelivers unacked tasks after the
# visibility timeout, which must exceed the longest stage.
task_acks_late = True
task_reject_on_worker_lost = True
broker_transport_options = {"visibility_timeout": _settings.visibility_timeout}
result_backend_transport_options = {"visibility_timeout": _settings.visibility_timeout}
# Disk stages are long: a worker takes one task at a time so others can pick up the rest.
worker_prefetch_multiplier = 1
worker_send_task_events = True
task_send_sent_event = True
task_track_started = True
task_serializer = "json"
result_serializer = "json"
accept_content = ["json"]
result_expires = 24 * 3600
broker_connection_retry_on_startup = True
broker_connection_retry = True
broker_connection_max_retries = None  # a worker waits for the broker to come back, however long
# A stage that ends while Redis restarts must still hand over to the next one: publishing the
# next message and storing the result (chord counters) retry for about a minute, not 0.6 s.
task_publish_retry_policy = {"max_retries": 40, "interval_start": 0.5, "interval_step": 0.5, "interval_max": 2.0}
result_backend_always_retry = True
result_backend_max_retries = 30
result_backend_base_sleep_between_retries_ms = 500
result_backend_max_sleep_between_retries_ms = 3000
worker_hijack_root_logger = False

# Transfer schedules live in the database; beat only asks twice a minute what is due (claims
# in the database make a second beat process harmless).
# The lost-task reaper (coriolis_tasks/reaper.py) runs every ``reaper_interval`` seconds.
beat_schedule = {
    "coriolis-transfer-schedules": {"task": "coriolis.control.run_schedules", "schedule": 30.0},
    "coriolis-lost-tasks": {"task": "coriolis.control.reap_lost_tasks", "schedule": _settings.reaper_interval},
}
