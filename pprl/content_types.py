"""The content type of every sealed file that passes between parties, named once.

The envelope carries it in its header, and every command that opens a file says which type it
expects, so a link map cannot be opened as released content, or a package as a link map.
"""

PACKAGE = "pprl-encodings"  # custodian -> TTP: the keyed encodings
LINKS = "pprl-links"  # TTP -> custodian: token -> pseudonym, in_study
PERSON_QUALITY = "pprl-person-quality"  # TTP -> analyst: (party, pseudonym) -> person_id
UNCERTAIN_LINKS = "pprl-uncertain-links"  # TTP -> analyst: uncertain pairs touching the study
RELEASED = "pprl-released"  # custodian -> analyst: content keyed by pseudonym
# In the schema metadata of the TTP's sealed tables: b"everyone" when no custodian marked any
# record (then everyone linked is in the study), else b"marked"
STUDY_KEY = b"pprl.study"
