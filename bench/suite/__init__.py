"""Benchmark suite: agentstream side by side with baselines measured in the same run.

    .venv/bin/python -m bench.suite [--quick] [--phases hop,fanout,...]

Starts a project Kafka broker, keeps it busy for 30 s with plain Kafka round trips (its JVM
compiles its request paths meanwhile), then per phase a fresh platform (`agentstream.stack`) with
the suite's tools (`bench.bench_tools`), measures it, stops it, and runs the phase's
baselines (`bench.baselines`: plain aiokafka request/reply, the orchestrator's records
relayed through plain aiokafka, in-process asyncio, Celery with Redis) on the same
machine. Phases, one module each:

    hop         tool hop, model hop and conversation round trip, one call at a time
    fanout      one turn of 5 parallel 0.8 s calls: wall minus model time
    throughput  conversations/s and tool calls/s at steady state, CPU per conversation
    scale_out   a 100 ms tool with 1, 2, 4 worker processes against linear scaling
    memory      orchestrator RSS per conversation in flight

Writes bench/results/bench-<UTC time>.json (and .md, .png beside it), prints the table,
and for a full run copies the table and chart to docs/bench/ for the README.
"""
