"""The Celery application; its configuration is the ``celeryconfig`` module."""

from celery import Celery
from celery.signals import celeryd_init, worker_process_init

from coriolis import heap, logging_setup, priority
from coriolis.config import get_settings
from providers import hostconfig, registry

celery_app = Celery(
    "coriolis",
    include=[
        "coriolis_tasks.stages",
        "coriolis_tasks.replica_stages",
        "coriolis_tasks.control",
        "coriolis_tasks.inventory",
        "coriolis_tasks.schedules",
    ],
    amqp="coriolis_tasks.sent_events:NamedSentEvents",
)
celery_app.config_from_object("celeryconfig")
logging_setup.hook_celery()
registry.configure(get_settings().enable_stub_provider)
hostconfig.configure(hostconfig.HostConfig(
    get_settings().kvm_qemu_binary, get_settings().kvm_ovmf_code, get_settings().kvm_ovmf_vars
))


@worker_process_init.connect
def _settle_heap(**_kwargs: object) -> None:
    """Each pool process, once forked, freezes the code it inherited (``coriolis.heap``)."""
    heap.settle()


@celeryd_init.connect
def _yield_to_the_api(**_kwargs: object) -> None:
    """A worker, before it starts its pool, takes a lower CPU priority (``worker_niceness``): batch work
    yields to the API on a shared host. Pool processes and the programs they run inherit it."""
    priority.lower(get_settings().worker_niceness)
