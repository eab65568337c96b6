"""The model's life in the server: loaded in the background, ready afterwards, called off the event loop."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

from .batching import Batcher
from .config import RuntimeConfig
from .errors import ModelNotReady, NotFound, RequestError, model_failure
from .frameworks import ServedModel, load_model
from .httpio import Request, Response
from .metrics import Metrics
from .prediction import Prediction

log = logging.getLogger(__name__)

# A prediction that typically takes less than MODELPORT_INLINE_BELOW_MS (default 10 ms of wall
# time) runs on the event loop itself: handing a millisecond call to a thread costs more than the
# call (GIL hand-offs between the loop and the thread), while a slower one would stall health
# checks and other requests meanwhile. Wall time on a busy host runs several times the CPU time,
# so the threshold is well above what a small model needs.
_SMOOTHING = 0.2


class ModelHost:
    """Owns the one model of this server: its loading, readiness and the threads that run it."""

    def __init__(self, config: RuntimeConfig) -> None:
        self.config = config
        self.model: ServedModel | None = None
        self.load_error: str | None = None
        self._started = False
        self._lock = threading.Lock()
        self._loaded = threading.Event()
        # 0 threads: always predict on the event loop itself
        threads = config.predict_threads
        self._executor = ThreadPoolExecutor(threads, thread_name_prefix="predict") if threads else None
        self._typical_seconds = float("inf")  # unknown until measured: start on the threads
        self._inline_below = config.inline_below_ms / 1000
        self.metrics = Metrics(config.model_name, config.model_version)
        self.batcher = (Batcher(self, config.max_batch_size, config.max_batch_delay_ms / 1000)
                        if config.max_batch_size else None)

    @property
    def ready(self) -> bool:
        """True once the model is loaded; never true after a failed load."""
        return self.model is not None

    def start_loading(self, on_failure: Callable[[str], None] | None = None) -> None:
        """Load the model in a background thread (once), so health checks answer meanwhile."""
        with self._lock:
            if self._started:
                return
            self._started = True
        thread = threading.Thread(target=self._load, args=(on_failure,), name="model-load", daemon=True)
        thread.start()

    def wait_loaded(self, timeout: float | None = None) -> bool:
        """Block until loading finished (ready or failed); True when it finished in time."""
        return self._loaded.wait(timeout)

    def _load(self, on_failure: Callable[[str], None] | None) -> None:
        config = self.config
        try:
            self.model = load_model(config)
            log.info("model %s version %s (%s) is ready", config.model_name, config.model_version, config.framework)
        except Exception as exc:
            self.load_error = f"{type(exc).__name__}: {exc}"
            log.error("model %s failed to load: %s", config.model_name, self.load_error)
            if on_failure is not None:
                on_failure(self.load_error)
        finally:
            self._loaded.set()

    def require_model(self) -> ServedModel:
        """The loaded model, or :class:`ModelNotReady` (503) while it loads or after it failed."""
        model = self.model
        if model is None:
            reason = "failed to load" if self.load_error else "is still loading"
            raise ModelNotReady(f"model {self.config.model_name!r} {reason}")
        return model

    def check_name(self, name: str, version: str | None = None) -> None:
        """404 unless ``name`` (and ``version``, when given) is the model this server holds."""
        if name != self.config.model_name:
            raise NotFound(f"unknown model {name!r}; this server holds {self.config.model_name!r}")
        if version is not None and version != self.config.model_version:
            raise NotFound(f"model {name!r} has no version {version!r}; it has {self.config.model_version!r}")

    @property
    def inline(self) -> bool:
        """Whether the next prediction runs on the event loop (see MODELPORT_INLINE_BELOW_MS)."""
        return self._executor is None or self._typical_seconds < self._inline_below

    async def call(self, function: Callable[..., Any], *args: Any) -> Any:
        """Run ``function(*args)`` (which calls the model), on a thread unless it is typically
        very fast; the model's own exceptions become RequestErrors."""
        if self.inline:
            result, seconds = _timed(function, *args)
        else:
            loop = asyncio.get_running_loop()
            result, seconds = await loop.run_in_executor(self._executor, _timed, function, *args)
        self._observe(seconds)
        if isinstance(result, RequestError):
            raise result
        return result

    def infer(self, inputs: dict[str, Any], requested: tuple[str, ...] | None) -> dict[str, Any]:
        """The model call itself, timed into the metrics (on whichever thread runs it)."""
        model = self.require_model()
        started = time.perf_counter()
        try:
            return model.infer(inputs, requested)
        finally:
            self.metrics.observe_inference(time.perf_counter() - started)

    def run_prediction(self, prediction: Prediction) -> Response:
        """Call the model for one prediction and build its response."""
        return prediction.respond(self.infer(prediction.inputs, prediction.requested))

    def prepare_and_run(self, prepare: Callable[["ModelHost", Request], Prediction], request: Request) -> Response:
        """Without batching: decode the request, call the model, respond, all in one (thread) call."""
        prediction = prepare(self, request)
        request.batch_size = 1
        return self.run_prediction(prediction)

    def _observe(self, seconds: float) -> None:
        if self._typical_seconds == float("inf"):
            self._typical_seconds = seconds
        else:
            self._typical_seconds += _SMOOTHING * (seconds - self._typical_seconds)

    def close(self) -> None:
        """Stop the batcher and the prediction threads (after the server drained its requests)."""
        if self.batcher is not None:
            self.batcher.stop()
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=False)


def _timed(function: Callable[..., Any], *args: Any) -> tuple[Any, float]:
    """``(result or RequestError, seconds)``: errors are returned so the time is always measured."""
    started = time.perf_counter()
    try:
        result = function(*args)
    except RequestError as error:
        result = error
    except Exception as exc:
        # the model's own failure: answer 500 with the reason and keep serving
        result = model_failure(exc)
    return result, time.perf_counter() - started
