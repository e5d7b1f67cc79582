"""One HTTP client for the LMS APIs: the token in a header and never anywhere else, a pause
between calls, and the platforms' "slow down" answers (429, Canvas's 403 "Rate Limit
Exceeded", 503) waited out and retried."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from urllib.parse import urlsplit

import httpx

RETRIES = 6


class LMSError(RuntimeError):
    """The LMS refused or failed a call; one line saying which and why (never the token)."""


def _throttled(response: httpx.Response) -> bool:
    return response.status_code in (429, 503) or (
        response.status_code == 403 and "rate limit exceeded" in response.text.lower())


class Client:
    """A client for one LMS: `base` its address, `headers` the authorisation."""

    def __init__(self, base: str, headers: Mapping[str, str] | None = None, pause: float = 0.1,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.base = base.rstrip("/")
        self.host = urlsplit(self.base).netloc
        self.http = httpx.Client(base_url=self.base, headers=dict(headers or {}), timeout=30.0)
        self.pause, self.sleep, self._last = pause, sleep, 0.0

    def request(self, method: str, url: str, **kwargs: object) -> httpx.Response:
        """The response of a call, after waiting out rate limits; LMSError when it fails."""
        if url.startswith("http") and urlsplit(url).netloc != self.host:  # a next-page link elsewhere
            raise LMSError(f"the LMS pointed to another host ({urlsplit(url).netloc}); not following it")
        for attempt in range(RETRIES):
            wait = self.pause - (time.monotonic() - self._last)
            if wait > 0:
                self.sleep(wait)
            try:
                response = self.http.request(method, url, **kwargs)  # type: ignore[arg-type]
            except httpx.HTTPError as exc:
                raise LMSError(f"{method} {urlsplit(url).path}: {type(exc).__name__}") from None
            finally:
                self._last = time.monotonic()
            if not _throttled(response):
                break
            retry_after = response.headers.get("Retry-After", "")
            self.sleep(float(retry_after) if retry_after.replace(".", "", 1).isdigit() else 2.0 ** attempt)
        else:
            raise LMSError(f"{method} {urlsplit(url).path}: still rate-limited after {RETRIES} tries")
        if response.status_code >= 400:
            raise LMSError(f"{method} {urlsplit(url).path}: HTTP {response.status_code}: {response.text[:200]}")
        return response

    def close(self) -> None:
        self.http.close()
