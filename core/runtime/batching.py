"""Adaptive batching: concurrent requests to the model merged into one model call, then split back.

On when MODELPORT_MAX_BATCH_SIZE (``[serving] max_batch_size``) is set: the most rows (first
dimension, summed over the merged requests) one model call receives. Requests are decoded on the
event loop and queued; one worker takes the oldest and the queued requests that fit with it (the
same input names, dtypes and shapes after the first dimension, the same requested outputs),
stacks their inputs, calls the model once and hands each request its own rows of every output.
One merged call runs at a time (on the event loop or a prediction thread, as MODELPORT_INLINE_BELOW_MS
decides for any call), so with batching on the model is never called concurrently.

Adaptive: the worker waits for companions only while they keep coming. It lets the event loop
turn, and goes as soon as a few turns pass with no new request queued and none on its way in
(body still arriving), or the batch is full, or MODELPORT_MAX_BATCH_DELAY_MS passed since it
started waiting. So a lone request waits a few loop turns (microseconds), not the delay, and
under load the requests that arrive while a batch runs form the next one.

Exactly as if run alone: a merged call that fails in any way (one request's bad values, a model
error) is not answered from: the batch is halved and each half tried again, down to single
requests, so every bad request gets exactly the error it gets alone and the good ones are still
merged. A merged call whose outputs do not split into the requests' rows (an output without the
batch dimension) means the model is not row-wise: each request is then run alone. Merging is only right for models whose output rows depend only
on their input rows, which is what a batch dimension means (Triton and KServe make the same
assumption); leave batching off for a model that looks across rows.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterator

import numpy as np

from .errors import RequestError, model_failure
from .httpio import Request, Response
from .prediction import Prediction

if TYPE_CHECKING:
    from .host import ModelHost

log = logging.getLogger(__name__)

# Loop turns without a new request before a batch goes: a request whose bytes arrived is parsed
# and queued within two turns (the turn that reads the socket schedules the request's task).
QUIET_TURNS = 3
SLOW_BODY_POLL = 0.0005  # seconds


@dataclass
class Waiting:
    """A queued request: its prediction, its HTTP request, its row count and its reply-to-be."""

    prediction: Prediction
    request: Request
    rows: int
    key: tuple | None
    future: asyncio.Future


class Batcher:
    """Queues predictions and runs them in merged model calls on one worker task."""

    def __init__(self, host: "ModelHost", max_rows: int, max_delay: float) -> None:
        self.host = host
        self.max_rows = max_rows
        self.max_delay = max_delay
        self._queue: deque[Waiting] = deque()
        self._arriving = 0
        self._wake: asyncio.Event | None = None
        self._worker: asyncio.Task | None = None

    @contextmanager
    def arrival(self) -> Iterator[None]:
        """Wrap reading and decoding a prediction request, so the worker knows it is on its way."""
        self._arriving += 1
        try:
            yield
        finally:
            self._arriving -= 1

    async def submit(self, prediction: Prediction, request: Request) -> Response:
        """Queue ``prediction`` and return its response (or raise its error) once its batch ran."""
        loop = asyncio.get_running_loop()
        key = prediction.batch_key()
        rows = prediction.rows or 0
        waiting = Waiting(prediction, request, rows, key if rows <= self.max_rows else None, loop.create_future())
        self._queue.append(waiting)
        self._start(loop)
        return await waiting.future

    def stop(self) -> None:
        """Cancel the worker (at shutdown, after the server drained its requests)."""
        if self._worker is not None:
            self._worker.cancel()
            self._worker = None

    def _start(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._worker is None or self._worker.done():
            self._wake = asyncio.Event()
            self._worker = loop.create_task(self._work(), name="modelport-batcher")
        assert self._wake is not None
        self._wake.set()

    async def _work(self) -> None:
        assert self._wake is not None
        while True:
            if not self._queue:
                self._wake.clear()
                await self._wake.wait()
                continue
            if self._queue[0].key is not None:
                await self._gather()
            batch = self._take()
            try:
                await self._run(batch)
            except Exception as exc:  # never let the worker die: fail this batch, keep serving
                log.exception("batch of %d failed", len(batch))
                _settle(batch, [exc] * len(batch))

    async def _gather(self) -> None:
        """Let the loop turn while requests keep arriving; see the module docstring."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.max_delay
        seen, quiet = len(self._queue), 0
        while quiet < QUIET_TURNS and loop.time() < deadline:
            if sum(w.rows for w in self._queue) >= self.max_rows:
                return
            await asyncio.sleep(0)
            if len(self._queue) > seen:
                seen, quiet = len(self._queue), 0
            elif self._arriving:
                # a request is waiting for the rest of its body: poll gently, not in a busy loop
                await asyncio.sleep(min(SLOW_BODY_POLL, max(0.0, deadline - loop.time())))
            else:
                quiet += 1

    def _take(self) -> list[Waiting]:
        """The oldest request and the queued ones that fit with it, in arrival order."""
        first = self._queue.popleft()
        batch = [first]
        if first.key is None:
            return batch
        rows, kept = first.rows, deque()
        while self._queue:
            waiting = self._queue.popleft()
            if waiting.key == first.key and rows + waiting.rows <= self.max_rows:
                batch.append(waiting)
                rows += waiting.rows
            else:
                kept.append(waiting)
        self._queue.extendleft(reversed(kept))
        return batch

    async def _run(self, batch: list[Waiting]) -> None:
        try:
            results = await self.host.call(run_batch, self.host, batch)
        except RequestError as error:  # run_batch itself failed (not one request's error)
            results = [error] * len(batch)
        _settle(batch, results)


def _settle(batch: list[Waiting], results: list[Any]) -> None:
    for waiting, result in zip(batch, results):
        if waiting.future.done():  # its request was cancelled (the server is stopping)
            continue
        if isinstance(result, BaseException):
            waiting.future.set_exception(result)
        else:
            waiting.future.set_result(result)


def run_batch(host: "ModelHost", batch: list[Waiting]) -> list[Response | Exception]:
    """Each request's response or error: from merged model calls, or from running it alone."""
    if len(batch) == 1:
        return [_alone(host, batch[0])]
    merged = _merged(host, batch)
    if merged is _NOT_ROW_WISE:
        return [_alone(host, waiting) for waiting in batch]
    if merged is _FAILED:
        # some request in it is bad (or the model failed): halve until the bad ones run alone,
        # so the good ones are still merged and each bad one gets exactly its own error
        middle = len(batch) // 2
        return run_batch(host, batch[:middle]) + run_batch(host, batch[middle:])
    return merged


_FAILED, _NOT_ROW_WISE = object(), object()


def _merged(host: "ModelHost", batch: list[Waiting]) -> Any:
    """The batch's results from one model call, or why there are none (_FAILED, _NOT_ROW_WISE)."""
    first = batch[0].prediction
    inputs = {name: np.concatenate([w.prediction.inputs[name] for w in batch]) for name in first.inputs}
    try:
        outputs = host.infer(inputs, first.requested)
    except Exception as exc:
        log.debug("merged call of %d requests failed (%s)", len(batch), exc)
        return _FAILED
    parts = _split(outputs, [w.rows for w in batch])
    if parts is None:
        log.debug("outputs of a merged call have no batch dimension; running each alone")
        return _NOT_ROW_WISE
    host.metrics.batch.observe(len(batch))
    results: list[Response | Exception] = []
    for waiting, part in zip(batch, parts):
        waiting.request.batch_size = len(batch)
        try:
            results.append(waiting.prediction.respond(part))
        except RequestError as error:
            results.append(error)
    return results


def _split(outputs: dict[str, Any], rows: list[int]) -> list[dict[str, Any]] | None:
    """Each request's rows of every output; None when an output has no batch dimension."""
    total = sum(rows)
    arrays = {name: np.asarray(value) for name, value in outputs.items()}
    if any(array.ndim == 0 or array.shape[0] != total for array in arrays.values()):
        return None
    bounds = np.cumsum(rows)[:-1]
    pieces = {name: np.split(array, bounds) for name, array in arrays.items()}
    return [{name: pieces[name][index] for name in arrays} for index in range(len(rows))]


def _alone(host: "ModelHost", waiting: Waiting) -> Response | Exception:
    host.metrics.batch.observe(1)
    waiting.request.batch_size = 1
    try:
        return host.run_prediction(waiting.prediction)
    except RequestError as error:
        return error
    except Exception as exc:  # the model's own failure, answered as it is without batching
        return model_failure(exc)
