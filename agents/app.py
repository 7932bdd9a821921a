"""The orchestrator process: a faust-streaming app around the pure state machine.

One agent (concurrency 1, never awaiting network round trips) consumes agent.requests
and agent.steps, which are co-partitioned by conversation id, so the instance owning a
conversation sees its request, all its results and its table entry. Per event: load the
state, call `machine.step`, store the new state, send what it emitted.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import faust
from aiokafka.partitioner import DefaultPartitioner

from agents.deadlines import DeadlineIndex
from agents.limits import Defaults
from agents.machine import Context, Emit, Event, Transition, step
from agents.registry_view import RegistryView
from agents.state import ConversationState
from agentstream.settings import Settings
from monitoring import metrics
from monitoring.pricing import Pricing
from topics.codec import COMPRESSION, DecodeError, decode, decode_step, encode, encode_key
from topics.messages import AgentRequest, AgentResponse, DeadLetter, Tick
from topics.names import MAX_MESSAGE_BYTES, Topics

log = logging.getLogger(__name__)
RESCAN_INTERVAL_S = 2.0
STALL_CHECK_INTERVAL_S = 1.0
STALL_AFTER_S = 10.0
_partitioner = DefaultPartitioner()


def app_id(settings: Settings) -> str:
    """The Faust app id: also its consumer group and the prefix of its changelog topic."""
    return settings.topic_prefix + settings.orchestrator_app_id


def build_app(settings: Settings) -> faust.App:
    """The orchestrator app, configured on purpose rather than by Faust's defaults."""
    brokers = ";".join(f"kafka://{b}" for b in settings.kafka_bootstrap_servers.split(","))
    app = faust.App(
        app_id(settings),
        broker=brokers,
        store="memory://",  # recovered from the changelog topic on start
        topic_partitions=4,
        table_standby_replicas=0,  # the deadline scan relies on holding active partitions only
        web_enabled=False,  # metrics are served by prometheus-client instead
        broker_session_timeout=10.0,
        broker_heartbeat_interval=1.0,
        broker_commit_interval=0.5,
        stream_processing_timeout=60.0,
        producer_linger=0.0,
        producer_acks=-1,
        producer_compression_type=COMPRESSION,
        producer_max_request_size=MAX_MESSAGE_BYTES,
        consumer_max_fetch_size=MAX_MESSAGE_BYTES,
        consumer_auto_offset_reset="earliest",
        key_serializer="raw",
        value_serializer="raw",
    )
    Orchestrator(app, settings)
    return app


class Orchestrator:
    """Binds the state machine to the Faust app's topics, table, timers and producer."""

    def __init__(self, app: faust.App, settings: Settings) -> None:
        self.app, self.settings = app, settings
        self.topics = Topics(settings.topic_prefix)
        self.registry = RegistryView(
            settings.kafka_bootstrap_servers, self.topics.tool_registry.name
        )
        self.pricing = Pricing.load(settings.prices_file)
        self.deadlines = DeadlineIndex()
        self.defaults = Defaults(
            model=settings.model,
            max_tokens=settings.model_max_tokens,
            max_iterations=settings.max_iterations,
            max_tool_calls_per_turn=settings.max_tool_calls_per_turn,
            tool_timeout_s=settings.tool_timeout_s,
            conversation_timeout_s=settings.conversation_timeout_s,
        )
        self.table = app.Table(
            "conversations", default=None, partitions=4, key_type=bytes, value_type=bytes
        )
        inputs = app.topic(
            self.topics.agent_requests.name,
            self.topics.agent_steps.name,
            key_type=bytes,
            value_type=bytes,
        )
        app.agent(inputs, name="orchestrate", concurrency=1)(self._orchestrate)
        app.task(self.registry.run)
        app.timer(settings.timer_interval_s)(self._tick_due)
        app.timer(RESCAN_INTERVAL_S)(self._rescan)
        app.timer(STALL_CHECK_INTERVAL_S)(self._watch_for_stall)
        self._last_event_at = time.monotonic()

    # --- the agent ---------------------------------------------------------------------

    async def _orchestrate(self, stream: faust.StreamT) -> None:
        await self.registry.ready.wait()
        async for event in stream.events():
            self._last_event_at = time.monotonic()
            message = event.message
            if message.topic == self.topics.agent_requests.name:
                await self._on_request_message(message)
            else:
                await self._on_step_message(message)

    async def _on_request_message(self, message: Any) -> None:
        try:
            request = decode(message.value, AgentRequest)
        except DecodeError as exc:
            await self._dead_letter(message, str(exc))
            await self._reject_undecodable(message.value, str(exc))
            return
        key = encode_key(request.conversation_id)
        partitions = list(range(self.topics.agent_requests.partitions))
        if message.key != key or _partitioner(key, partitions, partitions) != message.partition:
            # Unkeyed or placed by another partitioner: re-key so exactly one instance owns it.
            metrics.REKEYED.inc()
            await self._send(
                self.topics.agent_requests.name, request.conversation_id, message.value
            )
            return
        await self._apply(request.conversation_id, request)

    async def _on_step_message(self, message: Any) -> None:
        try:
            step_event = decode_step(message.value)
        except DecodeError as exc:
            await self._dead_letter(message, str(exc))
            return
        await self._apply(step_event.conversation_id, step_event)

    async def _apply(self, conversation_id: str, event: Event) -> None:
        key = encode_key(conversation_id)
        raw = self.table.get(key)
        state = ConversationState.model_validate_json(raw) if raw else None
        ctx = Context(
            now=time.time(),
            defaults=self.defaults,
            registry=self.registry.tools,
            price=self.pricing.cost_usd,
        )
        transition = step(state, event, ctx)
        if transition.state is not None and transition.state is not state:
            self.table[key] = transition.state.model_dump_json().encode()
            self.deadlines.set(conversation_id, transition.state.next_deadline())
        metrics.record_observations(transition.observations)
        self._log_ending(transition)
        for emit in transition.emits:
            await self._send(self._topic_of(emit), emit.key, encode(emit.message))

    def _log_ending(self, transition: Transition) -> None:
        for emit in transition.emits:
            if isinstance(emit.message, AgentResponse) and emit.message.error:
                log.warning(
                    "Conversation %s ended %s: %s",
                    emit.message.conversation_id,
                    emit.message.status,
                    emit.message.error,
                )

    def _topic_of(self, emit: Emit) -> str:
        if emit.topic:
            return emit.topic
        if emit.role == "tool_calls":
            assert emit.tool is not None
            return self.topics.tool_calls(emit.tool).name
        return {
            "model_calls": self.topics.model_calls.name,
            "responses": self.topics.agent_responses.name,
            "events": self.topics.agent_events.name,
        }[emit.role]

    async def _send(self, topic: str, key: str, value: bytes) -> None:
        """Hand the message to the producer; the agent never waits for the broker's ack."""
        await self.app.producer.send(topic, encode_key(key), value, None, None, None)

    async def _dead_letter(self, message: Any, reason: str) -> None:
        source = "requests" if message.topic == self.topics.agent_requests.name else "steps"
        metrics.DEAD_LETTERS.labels(source).inc()
        log.warning(
            "Dead-lettering %s[%d]@%d: %s", message.topic, message.partition, message.offset, reason
        )
        letter = DeadLetter.of(message, reason, at=time.time())
        await self._send(self.topics.dead_letters.name, letter.source_topic, encode(letter))

    async def _reject_undecodable(self, raw: bytes | None, reason: str) -> None:
        """Tell the caller its request was refused, when its conversation id can be read."""
        import json

        try:
            body = json.loads(raw or b"")
            conversation_id = str(body["conversation_id"])
            reply_topic = body.get("reply_topic") or self.topics.agent_responses.name
        except (ValueError, KeyError, TypeError):
            return
        if not conversation_id:
            return
        response = AgentResponse(
            conversation_id=conversation_id[:200], status="invalid_request", error=reason
        )
        metrics.CONVERSATIONS.labels("invalid_request", "none").inc()
        await self._send(str(reply_topic), conversation_id, encode(response))

    # --- timers ------------------------------------------------------------------------

    async def _watch_for_stall(self) -> None:
        """Report input partitions that hold unread records while the agent sits idle.

        faust-streaming 0.15.3 can drop a record fetched while the flow is suspended
        during a rebalance's recovery (upstream issue #596); the agent then idles with lag
        until the process restarts. This makes that visible as a metric and an error log
        so the process can be restarted; it does not change what is consumed.
        """
        if time.monotonic() - self._last_event_at < STALL_AFTER_S:
            return
        consumer = self.app.consumer
        inputs = {self.topics.agent_requests.name, self.topics.agent_steps.name}
        lagging = [
            tp
            for tp in consumer.assignment()
            if tp.topic in inputs
            and consumer.highwater(tp) > (consumer._committed_offset.get(tp) or 0)
        ]
        if not lagging or consumer.suspend_flow.is_set():
            return
        self._last_event_at = time.monotonic()
        metrics.STALLS.inc()
        log.error(
            "Input partitions %s have unread records and nothing arrived for %.0fs; "
            "restart this orchestrator to resume them.",
            sorted(f"{tp.topic}[{tp.partition}]" for tp in lagging),
            STALL_AFTER_S,
        )

    async def _tick_due(self) -> None:
        now = time.time()
        for conversation_id in self.deadlines.due(now):
            tick = Tick(conversation_id=conversation_id, at=now)
            await self._send(self.topics.agent_steps.name, conversation_id, encode(tick))

    async def _rescan(self) -> None:
        """Rebuild the deadline index from the table partitions this instance holds."""
        deadlines: dict[str, float] = {}
        for key, raw in list(self.table.items()):
            if not raw:
                continue
            state = ConversationState.model_validate_json(raw)
            deadline = state.next_deadline()
            if deadline is not None:
                deadlines[key.decode()] = deadline
        self.deadlines.replace(deadlines)
        metrics.IN_FLIGHT.set(len(deadlines))
