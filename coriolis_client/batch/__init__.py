"""Batch plans: many VMs migrated in waves, with a preflight, resume and a final report."""
