"""Celery configuration: broker, routing of each stage to its worker pool, reliability settings.

Routing lives here and only here: every stage task is routed by name to the queue of its
pool (``export``, ``convert``, ``morph``, ``import``, ``boot``) and the bookkeeping tasks to
``control``. Each pool is a worker started with ``-Q <queue>``.
"""

from coriolis.config import get_settings
from coriolis_tasks.pipeline import CONTROL_QUEUE, STAGES

_settings = get_settings()

broker_url = _settings.effective_broker_url
result_backend = _settings.effective_result_backend

task_routes = {
    **{f"coriolis.stage.{s.name}": {"queue": _settings.queue(s.queue)} for s in STAGES},
    "coriolis.control.*": {"queue": _settings.queue(CONTROL_QUEUE)},
}
task_default_queue = _settings.queue(CONTROL_QUEUE)

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
worker_hijack_root_logger = False
