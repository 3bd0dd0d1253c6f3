"""Adjusted p-values: one declared primary family, and every other p-value in a second family.

Dozens of rows (measures x windows x adjustments) each carry a p-value, so some fall below
0.05 by chance. The study declares its primary estimates ([analysis] primary_measures in the
primary window and adjustment, robust intervals, threshold linkage, everyone); they are
adjusted among themselves (Holm by default: strong control of the family-wise error), and the
rest among themselves (Benjamini-Hochberg by default: the false discovery rate).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from outcomes.config import StudyConfig


def holm(p: np.ndarray) -> np.ndarray:
    """Holm's step-down adjusted p-values (Holm 1979)."""
    order = np.argsort(p)
    ranked = p[order] * (len(p) - np.arange(len(p)))
    adjusted = np.empty_like(p)
    adjusted[order] = np.minimum(np.maximum.accumulate(ranked), 1.0)
    return adjusted


def benjamini_hochberg(p: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg step-up adjusted p-values (Benjamini and Hochberg 1995)."""
    order = np.argsort(p)[::-1]
    ranked = p[order] * len(p) / (len(p) - np.arange(len(p)))
    adjusted = np.empty_like(p)
    adjusted[order] = np.minimum(np.minimum.accumulate(ranked), 1.0)
    return adjusted


METHODS = {"holm": holm, "bh": benjamini_hochberg, "none": lambda p: p}


def is_primary(frame: pd.DataFrame, config: StudyConfig) -> pd.Series:
    """Rows that are primary estimates of the study."""
    analysis = config.analysis
    primary = (
        frame.measure.isin(analysis.primary_measures)
        & (frame.window == config.primary_window)
        & (frame.adjustment == analysis.primary_adjustment)
        & (frame.interval == analysis.intervals[0])
    )
    for column, value in (("linkage", "threshold"), ("subgroup", "")):
        if column in frame.columns:
            primary &= frame[column].fillna("") == value
    return primary


def adjust(frame: pd.DataFrame, config: StudyConfig, primary: pd.Series | None = None) -> pd.Series:
    """`p_value` adjusted within the primary rows and within the rest (NaN stays NaN)."""
    primary = pd.Series(False, index=frame.index) if primary is None else primary
    adjusted = pd.Series(np.nan, index=frame.index)
    methods = (config.analysis.adjust_primary, config.analysis.adjust_others)
    for family, method in zip((primary, ~primary), methods, strict=True):
        rows = family & frame.p_value.notna()
        if rows.any():
            adjusted[rows] = METHODS[method](frame.p_value[rows].to_numpy(float))
    return adjusted
