"""Tests of the vsphere source provider (against vcsim, and recorded SOAP answers where vcsim falls short)."""
