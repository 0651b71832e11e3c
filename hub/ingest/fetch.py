"""The thin fetching layer under every adapter: conditional GET, time-outs, a body-size limit,
and retries with exponential back-off and jitter that honour ``Retry-After``.

Validators (ETag, Last-Modified, content hash) are remembered per URL but written to
the store only by ``commit``, after the cycle that used the body has been published:
a cycle that fails part-way fetches the full body again next time instead of being
told "not modified" about data that never reached Kafka.
"""

from __future__ import annotations

import asyncio
import email.utils
import hashlib
import random
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from adapters.base import FeedUnavailableError, Fetched, NotModified
from hub.config import FeedAuth
from hub.ingest.state import FeedStateStore, SourceValidators
from hub.metrics import feeds as metrics

__all__ = ["FetchPolicy", "Fetcher"]

_RETRIABLE_STATUS = {408, 425, 429, 500, 502, 503, 504}


@dataclass(frozen=True)
class FetchPolicy:
    """Limits of one fetch."""

    timeout_s: float = 30.0
    max_body_bytes: int = 512 * 1024 * 1024
    attempts: int = 3
    backoff_base_s: float = 1.0
    backoff_max_s: float = 60.0


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def _http_date_ms(value: str | None) -> int | None:
    if not value:
        return None
    try:
        return int(email.utils.parsedate_to_datetime(value).timestamp() * 1000)
    except (TypeError, ValueError):
        return None


class Fetcher:
    """Fetches the URLs of one feed."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        store: FeedStateStore,
        feed: str,
        *,
        auth: FeedAuth | None = None,
        policy: FetchPolicy | None = None,
        download_dir: Path | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.session = session
        self.store = store
        self.feed = feed
        self.auth = auth
        self.policy = policy or FetchPolicy()
        self.download_dir = download_dir
        self._sleep = sleep
        self._pending: dict[str, SourceValidators] = {}
        self._files: list[Path] = []
        self.bytes_read = 0
        self.bodies_fetched = 0  # bodies (not 304s) this cycle; reset by the runner

    async def commit(self) -> None:
        """Remember the validators of this cycle's fetches (call after publishing)."""
        for url, validators in self._pending.items():
            await self.store.save_validators(self.feed, url, validators)
        self._pending.clear()

    def discard(self) -> None:
        """Forget this cycle's validators and downloaded files (after a failed cycle)."""
        self._pending.clear()
        self.cleanup()

    def cleanup(self) -> None:
        """Delete files downloaded for this cycle."""
        for path in self._files:
            path.unlink(missing_ok=True)
        self._files.clear()

    async def fetch(
        self, url: str, *, to_file: bool = False, conditional: bool = True
    ) -> Fetched | NotModified:
        """Fetch ``url``; ``NotModified`` on 304 or an unchanged body.

        ``conditional=False`` always answers with the body (an adapter that must join a
        changed file with an unchanged one needs both); an unchanged body then does not
        count as new data for the cycle's outcome.
        """
        known = await self.store.validators(self.feed, url)
        request_headers: dict[str, str] = {"Accept-Encoding": "gzip, deflate"}
        if conditional and known.etag:
            request_headers["If-None-Match"] = known.etag
        if conditional and known.last_modified:
            request_headers["If-Modified-Since"] = known.last_modified
        params: dict[str, str] = {}
        if self.auth is not None:
            credential = self.auth.resolved_value(f"feeds.{self.feed}.auth")
            if self.auth.header is not None:
                request_headers[self.auth.header] = credential
            elif self.auth.query_param is not None:
                params[self.auth.query_param] = credential
        last_error = "no attempt made"
        for attempt in range(self.policy.attempts):
            started = time.perf_counter()
            try:
                return await self._attempt(
                    url, known, request_headers, params, to_file=to_file, conditional=conditional
                )
            except FeedUnavailableError as exc:
                metrics.FETCHES.labels(self.feed, "error").inc()
                if not exc.retriable:
                    raise
                last_error = str(exc)
                if attempt + 1 == self.policy.attempts:
                    break
                await self._sleep(self._delay(attempt, exc.retry_after))
            finally:
                metrics.FETCH_SECONDS.labels(self.feed).observe(time.perf_counter() - started)
        raise FeedUnavailableError(f"{url}: {last_error} (after {self.policy.attempts} attempts)")

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        backoff = min(self.policy.backoff_max_s, self.policy.backoff_base_s * 2**attempt)
        # Full jitter spreads the retries of many hubs polling one publisher.
        delay = random.uniform(backoff / 2, backoff)  # noqa: S311 - jitter, not cryptography
        if retry_after is not None:
            delay = max(delay, min(retry_after, self.policy.backoff_max_s * 5))
        return delay

    async def _attempt(
        self,
        url: str,
        known: SourceValidators,
        request_headers: dict[str, str],
        params: dict[str, str],
        *,
        to_file: bool,
        conditional: bool,
    ) -> Fetched | NotModified:
        timeout = aiohttp.ClientTimeout(total=self.policy.timeout_s)
        try:
            async with self.session.get(
                url, headers=request_headers, params=params or None, timeout=timeout
            ) as response:
                if response.status == 304:
                    metrics.FETCHES.labels(self.feed, "not_modified").inc()
                    return NotModified(url)
                if response.status in _RETRIABLE_STATUS:
                    raise FeedUnavailableError(
                        f"HTTP {response.status}",
                        retriable=True,
                        retry_after=retry_after_seconds(response.headers.get("Retry-After")),
                    )
                if response.status >= 400:
                    raise FeedUnavailableError(f"{url}: HTTP {response.status} {response.reason}")
                fetched_at_ms = int(time.time() * 1000)
                digest = hashlib.sha256()
                path = None
                if to_file:
                    path = await self._download(response, digest)
                    body = b""
                else:
                    body = await self._read(response, digest)
                content_hash = digest.hexdigest()
                validators = SourceValidators(
                    response.headers.get("ETag"),
                    response.headers.get("Last-Modified"),
                    content_hash,
                )
                self._pending[url] = validators
                unchanged = content_hash == known.content_hash
                if unchanged and conditional:
                    # The source ignores conditional GET but sent the same bytes again.
                    if path is not None:
                        _remove(path)
                    metrics.FETCHES.labels(self.feed, "not_modified").inc()
                    return NotModified(url)
                metrics.FETCHES.labels(self.feed, "not_modified" if unchanged else "ok").inc()
                self.bodies_fetched += 0 if unchanged else 1
                return Fetched(
                    url,
                    fetched_at_ms,
                    body=body,
                    path=path,
                    content_type=response.headers.get("Content-Type"),
                    last_modified_ms=_http_date_ms(response.headers.get("Last-Modified")),
                )
        except (aiohttp.ClientPayloadError, aiohttp.ServerDisconnectedError) as exc:
            raise FeedUnavailableError(f"truncated response ({exc})", retriable=True) from exc
        except aiohttp.ClientConnectionError as exc:
            raise FeedUnavailableError(f"connection failed ({exc})", retriable=True) from exc
        except TimeoutError as exc:
            raise FeedUnavailableError(
                f"timed out after {self.policy.timeout_s:g} s", retriable=True
            ) from exc
        except aiohttp.ClientError as exc:
            raise FeedUnavailableError(f"{type(exc).__name__}: {exc}", retriable=True) from exc

    def _count(self, size: int) -> None:
        self.bytes_read += size
        metrics.FETCH_BYTES.labels(self.feed).inc(size)
        if self.bytes_read > self.policy.max_body_bytes:
            raise FeedUnavailableError(
                f"body larger than the limit of {self.policy.max_body_bytes:,} bytes"
            )

    async def _read(self, response: aiohttp.ClientResponse, digest: hashlib._Hash) -> bytes:
        self.bytes_read = 0
        parts: list[bytes] = []
        async for chunk in response.content.iter_chunked(1 << 16):
            self._count(len(chunk))
            digest.update(chunk)
            parts.append(chunk)
        return b"".join(parts)

    async def _download(self, response: aiohttp.ClientResponse, digest: hashlib._Hash) -> Path:
        self.bytes_read = 0
        handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed below, kept on success
            prefix=f"tsunagu-{self.feed}-", suffix=".download", dir=self.download_dir, delete=False
        )
        path = Path(handle.name)
        self._files.append(path)
        try:
            with handle:
                async for chunk in response.content.iter_chunked(1 << 20):
                    self._count(len(chunk))
                    digest.update(chunk)
                    await asyncio.to_thread(handle.write, chunk)
        except BaseException:
            _remove(path)
            raise
        return path


def _remove(path: Path) -> None:
    path.unlink(missing_ok=True)
