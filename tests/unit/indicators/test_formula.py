"""Formulas of derived indicators: Python's own arithmetic is the reference, evaluation never `eval`s."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from touchpoint.core.errors import ValidationError
from touchpoint.indicators.formula import evaluate_formula, evaluation_order, formula_inputs

NAMES = ["a", "b", "c"]
leaves = st.sampled_from(NAMES) | st.integers(0, 5).map(str)
formulas = st.recursive(
    leaves,
    lambda inner: (
        st.tuples(inner, st.sampled_from(["+", "-", "*", "/"]), inner).map(
            lambda t: f"({t[0]} {t[1]} {t[2]})"
        )
        | inner.map(lambda f: f"-{f}")
    ),
    max_leaves=8,
)
rows = st.lists(st.tuples(*[st.integers(-3, 3)] * 3), min_size=1, max_size=6)


def _python(formula: str, row: tuple[int, int, int]) -> float | None:
    try:
        return float(eval(formula, {"__builtins__": {}}, dict(zip(NAMES, map(float, row), strict=True))))
    except ZeroDivisionError:
        return None


def _divide(left: pd.Series, right: pd.Series | float) -> pd.Series:
    divisor = right.replace(0.0, np.nan) if isinstance(right, pd.Series) else (right or np.nan)
    return left / divisor


@settings(max_examples=150, deadline=None)
@given(formula=formulas, data=rows)
def test_evaluation_matches_python_arithmetic(formula: str, data: list[tuple[int, int, int]]) -> None:
    frame = pd.DataFrame(data, columns=NAMES, dtype=float)
    got = evaluate_formula(formula, {n: frame[n] for n in NAMES}, _divide)
    got = pd.Series(got, index=frame.index) if not isinstance(got, pd.Series) else got
    for row, value in zip(data, got, strict=True):
        want = _python(formula, row)
        if want is None:  # Python raises on ÷0; the formula gives no value instead
            assert math.isnan(value), (formula, row, value)
        else:
            assert value == pytest.approx(want), (formula, row)


def test_inputs_are_the_names_read_in_order() -> None:
    assert formula_inputs("(hold_top / hold_total) * 100 - hold_top") == ["hold_top", "hold_total"]


@pytest.mark.parametrize(
    ("formula", "fault"),
    [
        ("a +", "not an expression"),
        ("a ** 2", "only \\+ - \\* /"),
        ("a if b else c", "IfExp is not allowed"),
        ("'x' + a", "'x' is not a number"),
        ("a.b", "Attribute is not allowed"),
        ("not a", "only unary minus"),
    ],
)
def test_anything_but_arithmetic_is_refused(formula: str, fault: str) -> None:
    with pytest.raises(ValidationError, match=fault):
        formula_inputs(formula)


def test_evaluation_order_puts_inputs_first_and_names_a_cycle() -> None:
    order = evaluation_order({"c": ["b"], "b": ["a", "x"], "a": ["x"]})
    assert order.index("a") < order.index("b") < order.index("c")
    with pytest.raises(ValidationError, match="cycle"):
        evaluation_order({"a": ["b"], "b": ["c"], "c": ["a"]})
