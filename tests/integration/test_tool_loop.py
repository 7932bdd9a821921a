"""The tool-use loop end to end over the real broker, real workers and the real SDK."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest

from agentstream.client import AgentClient
from agentstream.stack import Stack
from monitoring.scrape import scrape_sum
from tests.support.waiting import wait_until
from topics.messages import AgentEvent, AgentRequest, AgentResponse

pytestmark = pytest.mark.integration


async def run(
    client: AgentClient, prompt: str, timeout_s: float = 60, **fields: Any
) -> tuple[AgentResponse, list[AgentEvent]]:
    request = AgentRequest(
        conversation_id=f"c-{uuid.uuid4().hex[:12]}",
        prompt=prompt,
        return_transcript=True,
        **fields,
    )
    await client.submit(request)
    events: list[AgentEvent] = []
    async for message in client.follow({request.conversation_id}, timeout_s):
        if isinstance(message, AgentResponse):
            return message, events
        events.append(message)
    raise AssertionError("no response")


def tool_results(response: AgentResponse) -> list[dict[str, Any]]:
    assert response.transcript is not None
    return [
        block
        for message in response.transcript
        if message["role"] == "user" and isinstance(message["content"], list)
        for block in message["content"]
        if block.get("type") == "tool_result"
    ]


TIMER_SLACK_S = 0.05
"""Far below the 0.8 s a cut-short sleep would lose, above any timer's early firing."""


async def test_a_turn_of_five_tools_runs_in_parallel(client: AgentClient) -> None:
    prompt = ", ".join(["sleep 0.8 seconds"] * 5)
    response, events = await run(client, prompt, tools=["sleep"])
    assert response.status == "completed", response.error
    assert response.tool_calls == 5
    finished = [e for e in events if e.type == "tool_finished"]
    # Each slept its 0.8 s, give or take the loop's timers: uvloop's count whole
    # milliseconds from the loop's clock as it was at the start of the iteration that
    # set them, so a sleep may end a little before the wall clock says it is due.
    assert len(finished) == 5
    assert all((e.duration_s or 0) >= 0.8 - TIMER_SLACK_S for e in finished), finished
    # All five ran at once: their execution intervals share a moment (sequential calls
    # would not overlap at all), whatever the machine's speed.
    starts = [e.at - (e.duration_s or 0) for e in finished]
    assert max(starts) < min(e.at for e in finished), (starts, [e.at for e in finished])


async def test_two_workers_of_one_tool_share_the_load(client: AgentClient) -> None:
    # 24 calls keyed by random tool_use ids over 4 partitions split 2/2 between the two
    # members: all landing on one member has probability 2 * 0.5**24.
    workers: set[str] = set()
    for _ in range(3):
        _, events = await run(client, ", ".join(["sleep 0 seconds"] * 8), tools=["sleep"])
        workers |= {e.worker or "" for e in events if e.type == "tool_finished"}
    assert len(workers) == 2, workers


@pytest.mark.parametrize(
    ("scenario", "status", "stop_reason"),
    [
        ("stop-end-turn", "completed", "end_turn"),
        ("stop-max-tokens", "max_tokens", "max_tokens"),
        ("stop-stop-sequence", "stop_sequence", "stop_sequence"),
        ("stop-refusal", "refusal", "refusal"),
        ("stop-context-window", "model_context_window_exceeded", "model_context_window_exceeded"),
        ("pause-then-end", "completed", "end_turn"),
    ],
)
async def test_every_stop_reason_is_handled(
    client: AgentClient, scenario: str, status: str, stop_reason: str
) -> None:
    response, _ = await run(client, f"[scenario:{scenario}] go", tools=["calculator"])
    assert (response.status, response.stop_reason) == (status, stop_reason)
    assert response.iterations == (2 if scenario == "pause-then-end" else 1)


async def test_a_worker_stops_a_call_at_its_deadline(client: AgentClient, stack: Stack) -> None:
    worker = f"http://127.0.0.1:{stack.metrics_ports['worker-stall-1']}/metrics"

    def cut() -> tuple[float, float]:
        """(calls the stall worker ended in an error, seconds it spent on calls)."""
        errors = scrape_sum(worker, "agentstream_tool_executions_total", outcome="error")
        return errors, scrape_sum(worker, "agentstream_tool_execution_seconds_sum")

    errors_before, seconds_before = cut()
    response, events = await run(client, "stall 5 seconds", tools=["stall"])
    assert response.status == "completed"
    results = tool_results(response)
    assert len(results) == 1, (response.model_dump(), [e.model_dump() for e in events])
    (result,) = results
    assert result["is_error"] is True and "TimeoutError" in result["content"]
    # The worker's cut and the orchestrator's timer share the 1 s deadline, so either may
    # answer the model; what matters here is that the worker itself stopped the call.
    assert {e.type for e in events} & {"tool_finished", "tool_timed_out"}
    await wait_until(lambda: cut()[0] > errors_before, 10, "the worker to end the call")
    assert cut()[1] - seconds_before < 5, "cut at its 1 s deadline, not after the 5 s stall"


async def test_an_unanswered_call_times_out_in_the_orchestrator(client: AgentClient) -> None:
    # `unattended` is registered but has no workers: only the orchestrator's timer can end it.
    response, events = await run(client, "unattended please", tools=["unattended"])
    assert response.status == "completed"
    (result,) = tool_results(response)
    assert result["is_error"] is True and "did not answer within" in result["content"]
    assert [e.type for e in events].count("tool_timed_out") == 1
    assert response.duration_s >= 1.0, "not before the tool's 1 s timeout"


async def test_calls_beyond_the_cap_get_is_error_results(client: AgentClient) -> None:
    prompt = "compute 1+1, compute 2+2, compute 3+3, compute 4+4"
    response, _ = await run(client, prompt, tools=["calculator"], max_tool_calls_per_turn=2)
    results = tool_results(response)
    assert [bool(r.get("is_error")) for r in results] == [False, False, True, True]
    assert all("ToolCallLimit" in r["content"] for r in results[2:])
    assert response.tool_calls == 2


async def test_unknown_disallowed_and_invalid_calls_are_explained(client: AgentClient) -> None:
    response, _ = await run(client, "[scenario:refusals] go", tools=["calculator"])
    assert response.status == "completed"
    ghost, clock, invalid, valid = tool_results(response)
    assert "UnknownTool" in ghost["content"] and ghost["is_error"]
    assert "ToolNotAllowed" in clock["content"] and clock["is_error"]
    assert "InvalidInput" in invalid["content"] and invalid["is_error"]
    assert valid["content"] == "6*7 = 42" and not valid.get("is_error")


async def test_a_retryable_tool_error_succeeds_on_retry(client: AgentClient) -> None:
    response, _ = await run(client, "get the flaky thing", tools=["flaky"])
    (result,) = tool_results(response)
    assert result["content"] == "ok on attempt 3" and not result.get("is_error")


async def test_a_fatal_tool_error_fails_the_request(client: AgentClient) -> None:
    response, _ = await run(client, "open the vault", tools=["vault"])
    assert response.status == "failed"
    assert "FatalToolError" in (response.error or "")
    assert response.iterations == 1


async def test_ordered_tools_run_one_after_another_in_order(client: AgentClient) -> None:
    response, _ = await run(client, "[scenario:ledger-three] go", tools=["ledger"])
    spans = [
        re.match(r"entry=(\d+) start=([\d.]+) end=([\d.]+)", r["content"])
        for r in tool_results(response)
    ]
    assert [int(m.group(1)) for m in spans if m] == [1, 2, 3]
    times = [(float(m.group(2)), float(m.group(3))) for m in spans if m]
    assert all(times[i][1] <= times[i + 1][0] for i in range(2)), times


async def test_structured_output_returns_a_validated_object(client: AgentClient) -> None:
    schema = {
        "type": "object",
        "required": ["city", "population"],
        "properties": {"city": {"type": "string"}, "population": {"type": "integer"}},
    }
    response, _ = await run(client, "Paris has 2100000 people", output_schema=schema)
    assert response.status == "completed"
    assert isinstance(response.output, dict)
    assert isinstance(response.output["city"], str) and response.output["population"] == 2100000


async def test_final_turn_none_forces_a_text_answer(client: AgentClient) -> None:
    prompt = "[scenario:always-tool-use] compute 1+1"
    capped, _ = await run(client, prompt, tools=["calculator"], max_iterations=2)
    assert capped.status == "max_iterations" and capped.iterations == 2
    answered, _ = await run(
        client, prompt, tools=["calculator"], max_iterations=2, final_turn_none=True
    )
    assert answered.status == "completed" and answered.iterations == 2
    assert answered.text


async def test_sdk_retries_overload_and_bad_requests_fail_clearly(client: AgentClient) -> None:
    recovered, _ = await run(client, "[scenario:overloaded-twice] hi")
    assert recovered.status == "completed"
    rejected, _ = await run(client, "[scenario:bad-request] hi")
    assert rejected.status == "failed" and "BadRequestError" in (rejected.error or "")
