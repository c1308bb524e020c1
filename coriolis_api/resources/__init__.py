"""One folder per resource: its blueprint, views, schemas and service functions."""
