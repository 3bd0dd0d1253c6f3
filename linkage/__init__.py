"""Linkage: standardisation and keyed Bloom-filter encoding (custodian side)."""
