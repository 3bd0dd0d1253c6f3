"""The saved model's file (model.json): its format, and the check that refuses a file of
another version or fitted with other comparisons, whose m and u would be read against levels
that mean something else."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from linkage.ttp.comparisons import COMPARISONS

# 2: term frequencies on close name agreement; household cells by date of birth and
# forename; u of sex given forename
# 3: each comparison's definition (kind, cuts, options) recorded beside its m and u
MODEL_FORMAT = "fellegi-sunter/3"
# older formats read as they are: their comparisons are checked by name and labels only
_READABLE_FORMATS = ("fellegi-sunter/2", MODEL_FORMAT)


def read_model_file(path: Path) -> dict[str, Any]:
    """The saved model as JSON, refused (ValueError naming the file) unless this version can
    read it against its own comparisons."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    _check_comparisons(path, data)
    return data


def _check_comparisons(path: Path, data: dict) -> None:
    """Refuse a model file of another format, or fitted with comparisons other than these:
    its m and u would be read against levels that mean something else."""
    fmt = data.get("model")
    if fmt not in _READABLE_FORMATS:
        if str(fmt or "").startswith("fellegi-sunter/"):
            raise ValueError(
                f"{path} was fitted by another version of pprl "
                f"({fmt}, this one reads {' or '.join(_READABLE_FORMATS)}): "
                "fit the model again"
            )
        raise ValueError(f"{path} is not a pprl Fellegi-Sunter model")
    names = [c["name"] for c in data["comparisons"]]
    if names != [c.name for c in COMPARISONS]:
        raise ValueError(f"{path} was fitted on other comparisons: {names}")
    for saved, comparison in zip(data["comparisons"], COMPARISONS, strict=True):
        definition = {k: v for k, v in saved.items() if k != "levels"}
        labels = [level["label"] for level in saved["levels"]]
        current = json.loads(json.dumps(comparison.to_dict()))
        if labels != list(comparison.labels) or (fmt == MODEL_FORMAT and definition != current):
            raise ValueError(
                f"{path} was fitted with another definition of the "
                f"'{comparison.name}' comparison: fit the model again"
            )
