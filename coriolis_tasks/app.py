"""The Celery application; its configuration is the ``celeryconfig`` module."""

from celery import Celery

celery_app = Celery("coriolis", include=["coriolis_tasks.stages", "coriolis_tasks.control", "coriolis_tasks.inventory"])
celery_app.config_from_object("celeryconfig")
