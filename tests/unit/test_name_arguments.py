"""A tool or client name that cannot be part of a topic name is a usage error, not a crash."""

from __future__ import annotations

import pytest

from agentstream import acls_command, topics_command


@pytest.mark.parametrize(
    ("main", "argv"),
    [
        (topics_command.main, ["list", "--client", "bad/name"]),
        (topics_command.main, ["list", "--tool", "a.b"]),
        (acls_command.main, ["plan", "--client", "bad/name"]),
        (acls_command.main, ["plan", "--tool", "x" * 65]),
    ],
)
def test_a_bad_name_exits_with_a_usage_line(main, argv, capsys) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith(
        ("agentstream topics: error: invalid", "agentstream acls: error: invalid")
    )
