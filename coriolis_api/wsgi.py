"""The WSGI entry point for gunicorn: ``coriolis_api.wsgi:app``."""

from coriolis import logging_setup
from coriolis_api.app import create_app

logging_setup.configure_from_settings()
app = create_app()
