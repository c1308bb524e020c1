"""Tests of the morphing package."""
