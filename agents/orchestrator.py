"""The orchestrator process: a faust-streaming app around the pure state machine.

One agent (concurrency 1) consumes agent.requests and agent.steps, which are
co-partitioned by conversation id, so the instance owning a conversation sees its
request, all its results and its table entry. Per event: load the state, call
`machine.step`, answer first, hold the new state, send the rest (a conversation whose
answer awaits its acknowledgement waits alone: `agents.finishing`); held states are
stored in the table just before faust commits (`agents.state_writes`). What survives a crash,
and why faust's exactly_once is not used: `docs/crash-safety.md`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import faust

from agents.answers import ResponseLog
from agents.deadlines import DeadlineIndex
from agents.encoded import Encoded, TooLarge
from agents.faust_app import app_id, changelog_config
from agents.faust_fixes import before_commit
from agents.finishing import Finishing
from agents.machine import Context, Emit, Event, State, Transition, fail, refuse, step, too_large
from agents.policy import Defaults
from agents.registry_view import RegistryView
from agents.sending import Sender, TopicDirectory, Undelivered
from agents.state import ConversationState
from agents.state_cache import StateCache
from agents.state_writes import HeldWrites, Write
from config.settings import Settings
from monitoring import metrics
from monitoring.pricing import Pricing
from topics.codec import DecodeError, decode, decode_step, encode, encode_key, read_envelope
from topics.messages import (
    AgentRequest,
    AgentResponse,
    DeadLetter,
    DeliveryFailure,
    ModelCall,
    Tick,
    ToolCall,
)
from topics.names import CONVERSATION_PARTITIONS, MAX_PAYLOAD_BYTES, Topics
from topics.partitioning import partitioner
from topics.reply_topics import ReplyTopicPolicy

log = logging.getLogger(__name__)
RESCAN_INTERVAL_S = 2.0
COMMIT_WAIT_S = 5.0
"""How long a commit waits for answers and state writes to be acknowledged before it is
postponed."""
REVOKE_WAIT_S = 15.0
"""How long a rebalance waits for the answers of revoked partitions to land, well inside
the group's rebalance timeout (past it the partitions move on anyway)."""
MAX_FINISHING = 1_000
"""Conversations whose answer may await its acknowledgement at once; more wait for room."""


class Orchestrator:
    """Binds the state machine to the Faust app's topics, table, timers and producer.

    Nothing that happens while applying one event escapes the agent: a record that cannot
    be decoded is dead-lettered (and answered when it is a request with a readable id), an
    event whose application raises is dead-lettered and fails only its conversation, and
    every send is bounded (`Sender`).
    """

    def __init__(self, app: faust.App, settings: Settings) -> None:
        self.app, self.settings = app, settings
        self.topics = Topics(settings.topic_prefix)
        self.registry = RegistryView(settings.kafka, self.topics)
        self.pricing = Pricing.load(settings.prices_file)
        self.deadlines = DeadlineIndex()
        self.states = StateCache()
        self.writes = HeldWrites()
        self.finishing = Finishing(MAX_FINISHING)
        self.defaults = Defaults.of(settings)
        self.reply_topics = ReplyTopicPolicy(
            self.topics, settings.reply_topic_patterns, internal_prefixes=(f"{app_id(settings)}-",)
        )
        self._sender: Sender | None = None
        self.answers = ResponseLog(
            settings.kafka,
            self.topics.agent_responses.name,
            self.topics.agent_responses.partitions,
        )
        self.table = app.Table(
            "conversations",
            default=None,
            partitions=CONVERSATION_PARTITIONS,
            key_type=bytes,
            value_type=bytes,
            extra_topic_configs=changelog_config(settings),
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
        app.on_before_shutdown.connect(self._close_readers)
        before_commit(app, self._before_commit)
        app.on_partitions_revoked.connect(self._drop_revoked)

    @property
    def sender(self) -> Sender:
        if self._sender is None:
            directory = TopicDirectory(self.settings.kafka, self.settings.produce_timeout_s)
            self._sender = Sender(
                self.app.producer,
                directory,
                self.topics.agent_responses.name,
                self.settings.produce_timeout_s,
                self.settings.kafka,
                self.answers.landed,
            )
        return self._sender

    async def _close_readers(self, _app: faust.App, **_kwargs: Any) -> None:
        await self.answers.close()
        if self._sender is not None:
            await self._sender.close()

    async def _orchestrate(self, stream: faust.StreamT) -> None:
        await self.registry.ready.wait()
        async for event in stream.events():
            message = event.message
            try:
                if message.topic == self.topics.agent_requests.name:
                    await self._on_request_message(message)
                else:
                    await self._on_step_message(message)
            except Exception as exc:  # the last line of defence: log, dead-letter, go on
                await self._unexpected(message, exc)

    async def _unexpected(self, message: Any, exc: Exception) -> None:
        """A fault while handling `message`: log it and dead-letter the message."""
        log.error(
            "Unexpected error on %s[%d]@%d.",
            message.topic,
            message.partition,
            message.offset,
            exc_info=exc,
        )
        await self._dead_letter(message, f"unexpected error: {_describe(exc)}")

    def _context(self, published_at: float | None = None) -> Context:
        return Context(
            now=time.time(),
            published_at=published_at,
            defaults=self.defaults,
            registry=self.registry.tools,
            price=self.pricing.cost_usd,
            reply_topics=self.reply_topics,
            topics=self.topics,
        )

    async def _on_request_message(self, message: Any) -> None:
        try:
            request = decode(message.value, AgentRequest)
        except DecodeError as exc:
            await self._dead_letter(message, str(exc))
            await self._reject_undecodable(message, str(exc))
            return
        key = encode_key(request.conversation_id)
        partitions = list(range(self.topics.agent_requests.partitions))
        if message.key != key or partitioner(key, partitions, partitions) != message.partition:
            # Unkeyed or placed by another partitioner: re-key so exactly one instance owns it.
            metrics.REKEYED.inc()
            await self.sender.send(
                self.topics.agent_requests.name, key, message.value, self._rekey_failed(request)
            )
            return
        if request.reply_topic and not self.reply_topics.problem(request.reply_topic):
            self.sender.look_up(self.reply_topics.resolve(request.reply_topic))
        await self._apply(request.conversation_id, request, message)

    async def _on_step_message(self, message: Any) -> None:
        try:
            step_event = decode_step(message.value)
        except DecodeError as exc:
            await self._dead_letter(message, str(exc))
            return
        await self._apply(step_event.conversation_id, step_event, message)

    async def _apply(self, conversation_id: str, event: Event, message: Any) -> None:
        key = encode_key(conversation_id)
        await self.finishing.wait(key)
        ctx = self._context(message.timestamp)
        state: State | None = None
        try:
            raw = self.writes.read(key, self.table)
            state = self.states.load(key, raw)
            transition = step(state, event, ctx)
            encoded = Encoded(transition, transition.state is not state)
        except TooLarge as big:
            metrics.OVERSIZED.labels(big.what).inc()
            transition = too_large(state, event, ctx, big.what, big.size, MAX_PAYLOAD_BYTES)
            encoded = Encoded(transition, True)
        except Exception as exc:
            kind = type(event).__name__
            metrics.EVENT_FAILURES.labels(kind).inc()
            log.exception("Applying a %s to conversation %s failed.", kind, conversation_id)
            await self._dead_letter(message, f"applying the {kind} failed: {_describe(exc)}")
            transition = fail(state, event, ctx, f"internal error applying a {kind}")
            encoded = Encoded(transition, True)
        since = state.answers_since if isinstance(state, ConversationState) else None
        await self._commit(key, message, conversation_id, transition, encoded, since)

    async def _commit(
        self,
        key: bytes,
        message: Any,
        conversation_id: str,
        transition: Transition,
        encoded: Encoded,
        answers_since: float | None = None,
    ) -> None:
        """Answer first, then hold the new state, then send the rest; record metrics.

        The final answer is acknowledged by the broker before the state saying "finished"
        is held (and so before it is stored): if it cannot be delivered, the conversation
        keeps its previous state and its lease or deadline brings it back here, so an
        answer is never lost to a crash or a broker outage. Only this conversation waits
        for the acknowledgement (`Finishing`). Calls and events follow the state (see
        `Sender`).
        """
        sends = list(zip(transition.emits, encoded.emits, strict=True))
        answers = [(emit, value) for emit, value in sends if _is_answer(emit)]
        rest = [(emit, value) for emit, value in sends if not _is_answer(emit)]
        if (
            answers
            and answers_since is not None
            and await self._answered_before(conversation_id, key, answers_since, transition)
        ):
            answers = []

        async def hold_and_send() -> None:
            await self._hold_and_send(
                key, message.partition, conversation_id, transition, encoded, rest
            )

        if not answers:
            await hold_and_send()
            return

        async def answer() -> bool:
            try:
                return await self._deliver_answers(conversation_id, answers)
            except Exception as exc:  # not Undelivered: a fault, as in `_orchestrate`
                await self._unexpected(message, exc)
                return False

        async def then() -> None:
            try:
                await hold_and_send()
            except Exception as exc:
                await self._unexpected(message, exc)

        await self.finishing.start(key, message.partition, answer, then)

    async def _deliver_answers(
        self, conversation_id: str, answers: list[tuple[Emit, bytes]]
    ) -> bool:
        try:
            for emit, value in answers:
                await self._respond(emit, value)
        except Undelivered as exc:
            log.error(
                "Conversation %s: its answer was not delivered (%s); it stays unanswered "
                "and is answered again when its lease or deadline comes.",
                conversation_id,
                exc,
            )
            return False
        return True

    async def _hold_and_send(
        self,
        key: bytes,
        partition: int,
        conversation_id: str,
        transition: Transition,
        encoded: Encoded,
        rest: list[tuple[Emit, bytes]],
    ) -> None:
        """Hold the new state (or its deletion), then send the calls and events."""
        if transition.forget:
            self.writes.delete(key, partition, stored=key in self.table)
            self.states.forget(key)
            self.deadlines.set(conversation_id, None)
        elif encoded.state is not None and transition.state is not None:
            self.writes.put(key, partition, encoded.state)
            state = transition.state
            self.states.stored(key, encoded.state, state)
            self.deadlines.set(conversation_id, state.next_deadline(), not state.finished)
        metrics.IN_FLIGHT.set(self.deadlines.in_flight)
        metrics.record_observations(transition.observations)
        self._log_ending(transition)
        for emit, value in rest:
            await self._send(emit, value)

    async def _answered_before(
        self, conversation_id: str, key: bytes, answers_since: float, transition: Transition
    ) -> bool:
        """Whether the answer this transition gives went out already, from the previous
        owner of the partition, before a crash kept it from storing the state."""
        default = self.topics.agent_responses.name
        if not any(_is_answer(e) and e.topic == default for e in transition.emits):
            return False
        try:
            done = await self.answers.already_answered(
                conversation_id, key, answers_since, self.app.consumer_generation_id
            )
        except Exception as exc:
            log.warning("Could not check earlier answers on %s: %s.", self.answers.topic, exc)
            return False
        if done:
            metrics.ANSWERS_NOT_REPEATED.inc()
            log.info("Conversation %s was answered before a restart; not again.", conversation_id)
        return done

    async def _respond(self, emit: Emit, value: bytes, key: bytes | None = None) -> None:
        assert isinstance(emit.message, AgentResponse)
        await self.sender.respond(emit.topic, key or encode_key(emit.key), emit.message, value)

    async def _send(self, emit: Emit, value: bytes) -> None:
        message = emit.message
        on_failure = None
        if isinstance(message, ModelCall | ToolCall):
            call_id = message.call_id if isinstance(message, ModelCall) else message.tool_use_id
            on_failure = self._delivery_failure_reporter(emit.key, call_id, emit.topic)
        await self.sender.send(emit.topic, encode_key(emit.key), value, on_failure)

    async def _answer(self, transition: Transition, response_key: bytes | None = None) -> None:
        """Send a refusal the machine decided outside `_apply` (nothing to store)."""
        metrics.record_observations(transition.observations)
        for emit in transition.emits:
            if _is_answer(emit):
                try:
                    await self._respond(emit, encode(emit.message), response_key)
                except Undelivered as exc:
                    log.error("A refusal for %s was not delivered: %s.", emit.key, exc)
            else:
                await self._send(emit, encode(emit.message))

    def _delivery_failure_reporter(self, conversation_id: str, call_id: str, topic: str):
        """Turn a call that never reached the broker into a step that fails its conversation."""

        async def report(reason: str) -> None:
            failure = DeliveryFailure(
                conversation_id=conversation_id, call_id=call_id, topic=topic, error=reason
            )
            await self.sender.send(
                self.topics.agent_steps.name, encode_key(conversation_id), encode(failure)
            )

        return report

    def _rekey_failed(self, request: AgentRequest):
        """A request that could not be re-published is answered `failed`, not dropped."""

        async def report(reason: str) -> None:
            error = f"the request could not be re-published under its key: {reason}"
            transition = refuse(
                request.conversation_id,
                request.reply_topic,
                error,
                self._context(),
                status="failed",
                metadata=request.metadata,
            )
            await self._answer(transition)

        return report

    def _log_ending(self, transition: Transition) -> None:
        for emit in transition.emits:
            if isinstance(emit.message, AgentResponse) and emit.message.error:
                log.warning(
                    "Conversation %s ended %s: %s",
                    emit.message.conversation_id,
                    emit.message.status,
                    emit.message.error,
                )

    async def _dead_letter(self, message: Any, reason: str) -> None:
        source = "requests" if message.topic == self.topics.agent_requests.name else "steps"
        metrics.DEAD_LETTERS.labels(source).inc()
        log.warning(
            "Dead-lettering %s[%d]@%d: %s",
            message.topic,
            message.partition,
            message.offset,
            reason[:300],
        )
        letter = DeadLetter.of(message, reason, at=time.time())
        await self.sender.send(
            self.topics.dead_letters.name, encode_key(letter.source_topic), encode(letter)
        )

    async def _reject_undecodable(self, message: Any, reason: str) -> None:
        """Answer a request that failed to decode, when its conversation id can be read.

        The response echoes the id as read (cut to 200 characters, invalid UTF-8 replaced)
        and is keyed by the request's own key bytes when it had one, so a caller matching
        on either finds it.
        """
        conversation_id, reply_topic = read_envelope(message.value)
        if conversation_id is None:
            return
        transition = refuse(conversation_id, reply_topic, reason[:2000], self._context())
        await self._answer(transition, message.key)

    async def _tick_due(self) -> None:
        now = time.time()
        for conversation_id in self.deadlines.due(now):
            tick = Tick(conversation_id=conversation_id, at=now)
            await self.sender.send(
                self.topics.agent_steps.name, encode_key(conversation_id), encode(tick)
            )

    async def _before_commit(self) -> bool:
        """Wait (bounded) for the answers on their way, store the held states and wait for
        every stored state to be on the broker: True lets faust commit the input offsets;
        False postpones the commit."""
        deadline = time.monotonic() + COMMIT_WAIT_S
        answered = await self.finishing.settle(COMMIT_WAIT_S)
        stored = await self._store_held_states()
        # Writes the rescan sends meanwhile are waited for too, not taken for failures.
        while (waiting := self.writes.unacknowledged()) and time.monotonic() < deadline:
            await asyncio.wait(waiting, timeout=deadline - time.monotonic())
        if self.writes.settle() and stored and answered:
            return True
        log.warning(
            "Input offsets not committed yet: %d answers and %d state writes unacknowledged "
            "or failed (tried again at the next commit).",
            len(self.finishing),
            len(self.writes.unacknowledged()) + len(self.writes),
        )
        return False

    async def _store_held_states(self) -> bool:
        """Write the held states to the table: its in-memory store and its changelog, in
        the partition of the event that made each (the table's own `__setitem__` takes it
        from the current event, and there is none at commit time). False when some could
        not be handed to the producer: those are held for the next try, and no offsets
        may be committed meanwhile."""
        writes = self.writes.drain()
        for done, write in enumerate(writes):
            try:
                self.writes.sent(write, await self._store(write))
            except Exception as exc:
                for unwritten in writes[done:]:
                    self.writes.hold(unwritten)
                log.warning("Storing %d held states failed (%s).", len(writes) - done, exc)
                metrics.STATE_WRITES.inc(done)
                return False
        metrics.STATE_WRITES.inc(len(writes))
        return True

    async def _drop_revoked(self, _app: faust.App, revoked: set[Any], **_kwargs: Any) -> None:
        """Let the answers of revoked partitions land first (the next owner looks for
        them before answering again; bounded by REVOKE_WAIT_S), then forget what is held
        for those partitions."""
        inputs = {self.topics.agent_requests.name, self.topics.agent_steps.name}
        partitions = {tp.partition for tp in revoked if tp.topic in inputs}
        if not await self.finishing.settle(REVOKE_WAIT_S, partitions):
            left = self.finishing.drop(partitions)
            log.warning(
                "%d answers of revoked partitions still unacknowledged after %.0fs; the "
                "next owner may answer those conversations again.",
                left,
                REVOKE_WAIT_S,
            )
        dropped = self.writes.drop(partitions)
        if dropped:
            log.info("Dropped %d held states of revoked partitions (not committed).", dropped)

    async def _store(self, write: Write) -> asyncio.Future[Any]:
        """The changelog record's acknowledgement (resolved once the broker has it)."""
        if write.value is None:
            self.table.data.pop(write.key, None)
        else:
            self.table.data[write.key] = write.value
        self.writes.stored(write)
        changelog = self.table.changelog_topic.get_topic_name()
        return await self.sender.store(changelog, write.partition, write.key, write.value)

    async def _rescan(self) -> None:
        """Store held states; rebuild the deadline index after a rebalance (see
        `DeadlineIndex.sync`); drop decoded states that went idle."""
        await self._store_held_states()
        if self.deadlines.sync(self.table):
            self.states.keep_only(self.table)
        self.states.evict_idle()
        metrics.IN_FLIGHT.set(self.deadlines.in_flight)


def _is_answer(emit: Emit) -> bool:
    return isinstance(emit.message, AgentResponse)


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:500]
