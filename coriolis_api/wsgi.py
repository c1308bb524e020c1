"""The WSGI entry point for gunicorn: ``coriolis_api.wsgi:app``."""

from coriolis import heap, logging_setup
from coriolis_api.app import create_app

logging_setup.configure_from_settings()
app = create_app()
heap.settle()  # after the app is built: full collections no longer walk the imported code
