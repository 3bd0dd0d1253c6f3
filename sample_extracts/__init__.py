"""A synthetic two-county L&D scenario with ground truth, and the default one it ships."""

from pathlib import Path

DEFAULT_SCENARIO = Path(__file__).parent / "default"
