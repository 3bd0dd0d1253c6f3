"""Linkage, in two halves that never import each other: `custodian` (what runs on a custodian's
machine: reading extracts, standardising, encoding, hashing, releasing content) and `ttp` (what
runs on the TTP's: opening packages, blocking, comparing, the model, assigning persons, the
pseudonymised outputs). They share only the encoding configuration and the package format."""
