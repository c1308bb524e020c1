"""The Celery application; its configuration is the ``celeryconfig`` module."""

from celery import Celery
from celery.signals import worker_process_init

from coriolis import heap, logging_setup

celery_app = Celery(
    "coriolis",
    include=[
        "coriolis_tasks.stages",
        "coriolis_tasks.replica_stages",
        "coriolis_tasks.control",
        "coriolis_tasks.inventory",
        "coriolis_tasks.schedules",
    ],
)
celery_app.config_from_object("celeryconfig")
logging_setup.hook_celery()


@worker_process_init.connect
def _settle_heap(**_kwargs: object) -> None:
    """Each pool process, once forked, freezes the code it inherited (``coriolis.heap``)."""
    heap.settle()
