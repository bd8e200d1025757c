"""Derived indicators: arithmetic over other indicators (`a / b`, `(x - y) / y * 100`), parsed, never eval'd.

A formula is a Python expression restricted to numbers, indicator names, `+ - * /`, unary minus and
parentheses. Division by zero gives no value rather than an error or infinity, so a ratio over an empty
denominator (no holdings, no assets) is simply missing for that customer.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from touchpoint.core.errors import ValidationError

_OPERATORS: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
}


def parse_formula(formula: str) -> ast.expr:
    """The checked syntax tree of a formula, or ValidationError naming what is not allowed."""
    try:
        tree = ast.parse(formula, mode="eval").body
    except SyntaxError as exc:
        raise ValidationError(f"formula {formula!r} is not an expression: {exc.msg}") from None
    for node in ast.walk(tree):
        allowed = isinstance(
            node, ast.BinOp | ast.UnaryOp | ast.Name | ast.Constant | ast.operator | ast.unaryop | ast.Load
        )
        if not allowed:
            raise ValidationError(f"formula {formula!r}: {type(node).__name__} is not allowed")
        if isinstance(node, ast.BinOp) and type(node.op) not in (*_OPERATORS, ast.Div):
            raise ValidationError(f"formula {formula!r}: only + - * / are allowed")
        if isinstance(node, ast.UnaryOp) and not isinstance(node.op, ast.USub | ast.UAdd):
            raise ValidationError(f"formula {formula!r}: only unary minus is allowed")
        if isinstance(node, ast.Constant) and (
            isinstance(node.value, bool) or not isinstance(node.value, int | float)
        ):
            raise ValidationError(f"formula {formula!r}: {node.value!r} is not a number")
    return tree


def formula_inputs(formula: str) -> list[str]:
    """The indicator names a formula reads, in order of first appearance."""
    names = [n.id for n in ast.walk(parse_formula(formula)) if isinstance(n, ast.Name)]
    return list(dict.fromkeys(names))


def evaluate_formula(formula: str, values: Mapping[str, Any], divide: Callable[[Any, Any], Any]) -> Any:
    """Fold the formula over `values` (Ibis columns or pandas series); `divide` decides what ÷0 gives."""

    def fold(node: ast.expr) -> Any:
        if isinstance(node, ast.Name):
            return values[node.id]
        if isinstance(node, ast.Constant):
            assert isinstance(node.value, int | float)
            return float(node.value)
        if isinstance(node, ast.UnaryOp):
            operand = fold(node.operand)
            return -operand if isinstance(node.op, ast.USub) else operand
        assert isinstance(node, ast.BinOp)
        left, right = fold(node.left), fold(node.right)
        if isinstance(node.op, ast.Div):
            return divide(left, right)
        return _OPERATORS[type(node.op)](left, right)

    return fold(parse_formula(formula))


def evaluation_order(formulas: Mapping[str, Sequence[str]]) -> list[str]:
    """Derived indicators ordered so each comes after the derived ones it reads; a cycle is refused."""
    order: list[str] = []
    state: dict[str, str] = {}

    def visit(name: str, path: list[str]) -> None:
        if state.get(name) == "done":
            return
        if state.get(name) == "visiting":
            cycle = [*path[path.index(name) :], name]
            raise ValidationError(f"indicator {name}: formula cycle {' → '.join(cycle)}")
        state[name] = "visiting"
        for needed in formulas[name]:
            if needed in formulas:
                visit(needed, [*path, name])
        state[name] = "done"
        order.append(name)

    for name in formulas:
        visit(name, [])
    return order
