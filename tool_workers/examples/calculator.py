"""`calculator`: exact arithmetic on an expression, without eval."""

from __future__ import annotations

import ast
import math
import operator
from typing import Any

from pydantic import BaseModel, Field

from tool_workers.definitions import CallContext, tool
from tool_workers.errors import InvalidToolInput

_BINARY: dict[type, Any] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY: dict[type, Any] = {ast.UAdd: operator.pos, ast.USub: operator.neg}
MAX_EXPONENT = 1000
MAX_RESULT_BITS = 10_000
"""About 3,000 digits: every intermediate value stays small, so no call can outlive its
deadline in a thread that cannot be stopped (`((9**999)**999)**999` is refused at once)."""


class CalculatorInput(BaseModel):
    expression: str = Field(
        description="Arithmetic expression, e.g. '(2 + 3) * 4 / 7'.", min_length=1, max_length=500
    )


def evaluate(expression: str) -> float | int:
    """Evaluate + - * / // % ** and parentheses over numbers; anything else is rejected."""
    try:
        tree = ast.parse(expression.replace("^", "**"), mode="eval")
    except SyntaxError as exc:
        raise InvalidToolInput(f"not an arithmetic expression: {expression!r}") from exc
    return _eval(tree.body)


def _eval(node: ast.AST) -> float | int:
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
        return node.value
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _eval(node.left), _eval(node.right)
        _check_size(node.op, left, right)
        try:
            return _bounded(_BINARY[type(node.op)](left, right))
        except ZeroDivisionError as exc:
            raise InvalidToolInput("division by zero") from exc
        except OverflowError as exc:
            raise InvalidToolInput("the result is too large for a float") from exc
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)](_eval(node.operand))
    raise InvalidToolInput(
        f"unsupported element {ast.dump(node)[:60]}; use numbers and + - * / % ^"
    )


def _bits(value: float | int) -> int:
    return abs(int(value)).bit_length() if isinstance(value, int) else 64


def _check_size(op: ast.operator, left: float | int, right: float | int) -> None:
    """Refuse, before computing it, any power or product that would be too large."""
    if isinstance(op, ast.Pow):
        if abs(right) > MAX_EXPONENT:
            raise InvalidToolInput(f"exponent {right} is too large")
        if isinstance(left, int) and abs(left) > 1 and _bits(left) * abs(right) > MAX_RESULT_BITS:
            raise InvalidToolInput(f"the result would exceed {MAX_RESULT_BITS} bits")
    if isinstance(op, ast.Mult) and _bits(left) + _bits(right) > MAX_RESULT_BITS:
        raise InvalidToolInput(f"the result would exceed {MAX_RESULT_BITS} bits")


def _bounded(value: float | int) -> float | int:
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidToolInput("the result is too large for a float")
    if isinstance(value, int) and value.bit_length() > MAX_RESULT_BITS:
        raise InvalidToolInput(f"the result would exceed {MAX_RESULT_BITS} bits")
    return value


@tool(
    CalculatorInput,
    description=(
        "Evaluate an arithmetic expression exactly and return the number.\n"
        "Use when the user asks to compute, add, multiply or otherwise calculate numbers.\n"
        "Do not use for dates, unit conversions or anything that is not plain arithmetic."
    ),
    timeout_s=5.0,
)
def calculator(args: CalculatorInput, ctx: CallContext) -> str:
    value = evaluate(args.expression)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return f"{args.expression} = {value}"
