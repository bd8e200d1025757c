"""Indicators (指标): declared per-customer metrics, computed per business date."""

from touchpoint.indicators.model import Filter, IndicatorCreate, IndicatorDef, Window
from touchpoint.indicators.service import (
    IndicatorEnv,
    compute_indicators,
    delete_indicator,
    get_indicator,
    known_fields,
    list_indicators,
    save_indicator,
)

__all__ = [
    "Filter",
    "IndicatorCreate",
    "IndicatorDef",
    "IndicatorEnv",
    "Window",
    "compute_indicators",
    "delete_indicator",
    "get_indicator",
    "known_fields",
    "list_indicators",
    "save_indicator",
]
