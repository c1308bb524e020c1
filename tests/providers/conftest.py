"""Fixtures shared by the provider tests: the public-cloud end-to-end fleet (one per session)."""

from tests.fixtures.cloud_fleet import fleet  # noqa: F401 (session fixture)
