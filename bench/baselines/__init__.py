"""Baselines the bench suite runs beside agentstream, in the same invocation, on this machine.

raw_kafka     The floor of one request/reply hop over the same Kafka broker: plain aiokafka
              clients built like the platform's (acks=all, idempotent, linger 0) and an echo
              process. No Kafka-based design can answer faster, so the platform's hop is
              judged by how far above this it sits.
kafka_relay   The floor of the orchestrator's CPU: plain aiokafka reading and writing the
              records an orchestrator does per conversation (6 in, 17 out, about their
              sizes), with no framework and no logic, at the platform's measured rate.
celery_redis  What users would otherwise deploy for distributed tool calls: Celery with a
              real redis-server as broker and result backend and a real worker process.
              Round trip, fan-out and throughput (with the worker's CPU) are measured in
              the same shapes as the platform's, so the numbers compare directly.
celery_app    The Celery app and its tasks (noop, sleep, ping) that the worker loads.
in_process    The bounds without any infrastructure: k awaits one after another (a plain
              agent loop) and all at once with asyncio.gather (the ideal fan-out).
"""
