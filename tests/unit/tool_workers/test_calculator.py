"""The calculator refuses anything that could outlive its deadline, before computing it."""

from __future__ import annotations

import pytest

from tool_workers.errors import InvalidToolInput
from tool_workers.examples.calculator import evaluate


@pytest.mark.parametrize(
    ("expression", "value"),
    [("19*23", 437), ("2^8", 256), ("(2 + 3) * 4 / 8", 2.5), ("9**999 % 7", 9**999 % 7)],
)
def test_arithmetic(expression: str, value: float) -> None:
    assert evaluate(expression) == value


@pytest.mark.parametrize(
    ("expression", "reason"),
    [
        ("((9**999)**999)**999", "exceed 10000 bits"),
        ("(9**999)*(9**999)*(9**999)*(9**999)", "exceed 10000 bits"),
        ("2**100000", "exponent"),
        ("2.5**1000", "too large for a float"),
        ("1e308*10", "too large for a float"),
        ("1/0", "division by zero"),
        ("(" * 300 + "1" + ")" * 300, "not an arithmetic expression"),
        ("__import__('os')", "unsupported element"),
    ],
)
def test_refusals(expression: str, reason: str) -> None:
    with pytest.raises(InvalidToolInput, match=reason):
        evaluate(expression)
