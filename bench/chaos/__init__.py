"""Chaos harness: prove "zero lost conversations under kill -9", one scenario at a time.

    .venv/bin/python -m bench.chaos [--conversations N] [--rate R] [--scenarios a,b]
                                    [--seed S] [--json PATH]

Per scenario: a project broker (shared by the scenarios; `broker-kill` gets its own to
kill, `leader-kill` a 3-node cluster with topics replicated 3x), the platform started
through its CLI (`agentstream.stack`), conversations submitted at a steady rate by a
plain aiokafka producer exactly as docs/protocol.md says, responses read by a plain
aiokafka consumer, and the scenario's fault applied at a seeded random moment in the
middle of the submission window. Then it waits, on conditions with deadlines, until
every conversation is answered or past its deadline and the consumer groups have
drained, and reports what was lost, duplicated or executed twice.
`tests/chaos/test_chaos_short.py` runs the same functions, smaller.

Per scenario (one JSON line, one table row; all in bench/results/chaos-<time>.json):
  never_answered       sent (acknowledged by the broker) but no response by its deadline
  duplicate_responses  conversations with more than one response
  timed_out            first response `timed_out`
  tools_executed_more_than_once  tool_use_ids the chaos tool's ledger shows run twice
  answers_with_failed_calls      answers reporting a failed chaos call (informational:
                       a non-idempotent call interrupted by a kill is never re-run)
  kill_to_resumed_s    fault -> first completion produced after it for a conversation
                       in flight at it (`resumed_after`); per fault also
                       kill_to_received_s, the same by when the client read it
  in_flight_answered_s fault -> last conversation in flight at it answered (the tail)
"""
