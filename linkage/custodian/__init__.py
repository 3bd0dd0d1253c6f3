"""Everything that runs on a custodian's machine: `pprl hash` and `pprl release`.

A custodian's IT team can audit this folder (with `keys/`, `pprl/` and the study file reader
`outcomes/config.py`, `followup.py` and `study_fields.py`) as the whole of what touches its
identifiers and content."""
