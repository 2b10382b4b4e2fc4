"""The Lever API client (users, audit events, hiring reads): auth, paging, pacing, retries,
timeouts and error mapping."""

from __future__ import annotations

import base64
import logging
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Any
from urllib.parse import SplitResult, quote, urlsplit

import requests
from requests.auth import HTTPBasicAuth
from urllib3.exceptions import NewConnectionError

from connector.errors import (
    ConnectorConfigError,
    LeverAuthError,
    LeverNotFoundError,
    LeverPermissionError,
    LeverRequestError,
    LeverResponseError,
    LeverUnavailableError,
    PaginationError,
    RetriableError,
    scrub,
)
from connector.lever.pacing import TokenBucket
from inventory.timeutil import utcnow

__all__ = ["DEFAULT_BASE_URL", "NETWORK", "LeverClient", "RequestStats"]

log = logging.getLogger("invsync.lever")

DEFAULT_BASE_URL = "https://api.lever.co/v1"
RETRIABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
# Statuses by which Lever says it did nothing, so even a non-idempotent call may be sent again.
NOT_APPLIED_STATUSES = frozenset({429, 503})
BACKOFF_BASE = 0.5
BACKOFF_CAP = 30.0
MAX_PAGE_SIZE = 100
# The outcome of a try that got no HTTP status back (refused, reset, timed out).
NETWORK = "network"


class RequestStats:
    """What a client sent and retried, by HTTP status (or NETWORK), for the run's counts."""

    def __init__(self) -> None:
        self._requests: Counter[str] = Counter()
        self._retries: Counter[str] = Counter()
        self._last = NETWORK
        self._lock = threading.Lock()

    def sent(self, outcome: str) -> None:
        """Count one try and remember its outcome, which a retry after it is counted under."""
        with self._lock:
            self._requests[outcome] += 1
            self._last = outcome

    def retried(self) -> None:
        """Count one retry under the outcome of the try that failed."""
        with self._lock:
            self._retries[self._last] += 1

    def as_dict(self) -> dict[str, dict[str, int]]:
        """A copy as `{"requests": {status: n}, "retries": {status: n}}`, statuses sorted."""
        with self._lock:
            return {"requests": dict(sorted(self._requests.items())),
                    "retries": dict(sorted(self._retries.items()))}  # fmt: skip


class LeverClient:
    """Talks to Lever's users API with one API key; paces itself and retries only the transient."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        password: str = "",
        *,
        max_rps: float = 10.0,
        burst: int = 10,
        timeout: float = 30.0,
        retry_budget: float = 60.0,
        max_tries: int = 10,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        rng: Callable[[], float] = random.random,
        now: Callable[[], datetime] = utcnow,
        http: requests.Session | None = None,
    ) -> None:
        self.__secrets = _secrets_of(api_key, password)
        self.base_url = _check_base_url(base_url, self.__secrets)
        _check_settings(api_key, max_rps, burst, timeout, retry_budget, max_tries)
        self.__auth = HTTPBasicAuth(api_key, password)
        self._timeout = timeout
        self._retry_budget = retry_budget
        self._max_tries = max_tries
        self._clock, self._sleep, self._rng, self._now = clock, sleep, rng, now
        self._bucket = TokenBucket(max_rps, burst, clock, sleep)
        self._owns_http = http is None
        self._http = http if http is not None else requests.Session()
        self._stats = RequestStats()

    def __repr__(self) -> str:
        return f"LeverClient(base_url={self.base_url!r})"

    def __enter__(self) -> LeverClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Release the HTTP connections, unless the caller lent us its session."""
        if self._owns_http:
            self._http.close()

    @property
    def stats(self) -> dict[str, dict[str, int]]:
        """Requests made and retries done so far, by HTTP status or "network" (a copy)."""
        return self._stats.as_dict()

    # -- users ------------------------------------------------------------------------------

    def iter_user_pages(
        self, *, limit: int = MAX_PAGE_SIZE, include_deactivated: bool = True, **filters: Any
    ) -> Iterator[list[dict[str, Any]]]:
        """Raw users a page at a time, following `next` tokens exactly as Lever gave them."""
        params = _list_params(limit, include_deactivated, filters)
        yield from self._follow("/users", params)

    def _follow(self, path: str, params: dict[str, Any]) -> Iterator[list[dict[str, Any]]]:
        """Pages of a list endpoint, passing each `next` token back unchanged; never loops."""
        seen: set[str] = set()
        while True:
            page = self._get_page(path, params)
            yield page["data"]
            token = _next_token(page, self.__secrets)
            if token is None:
                return
            if token in seen:
                raise PaginationError(
                    f"Lever repeated the page token {token!r} after {len(seen) + 1} pages;"
                    " stopped paging to avoid a loop",
                    secrets=self.__secrets,
                )
            seen.add(token)
            params = {**params, "offset": token}

    def get_user(self, user_id: str) -> dict[str, Any]:
        """One user by id, deactivated ones included."""
        path = _user_path(user_id)
        return _user_of(self._request("GET", path), f"GET {path}")

    def deactivate_user(self, user_id: str) -> dict[str, Any]:
        """Deactivate a user (Lever has no delete); an already deactivated user counts as done."""
        return self._switch(
            user_id, "deactivate", lambda user: user.get("deactivatedAt") is not None
        )

    def reactivate_user(self, user_id: str) -> dict[str, Any]:
        """Reactivate a user; an already active user counts as done."""
        return self._switch(user_id, "reactivate", lambda user: user.get("deactivatedAt") is None)

    def _switch(
        self, user_id: str, action: str, done: Callable[[dict[str, Any]], bool]
    ) -> dict[str, Any]:
        """POST a state change; if Lever refuses it, read the user to see if it already holds."""
        try:
            return self._write_user("POST", f"{_user_path(user_id)}/{action}", user_id)
        except LeverRequestError:
            user = self.get_user(user_id)
            if done(user):
                return user
            raise

    # -- hiring: opportunities, offers, postings, archive reasons ---------------------------

    def iter_opportunity_pages(
        self, *, limit: int = MAX_PAGE_SIZE, **filters: Any
    ) -> Iterator[list[dict[str, Any]]]:
        """Raw opportunities a page at a time (filters as Lever names them, e.g.
        `archived_at_start`, `confidentiality`, `expand`)."""
        yield from self._follow("/opportunities", _list_params(limit, False, filters))

    def get_opportunity(self, opportunity_id: str, expand: tuple[str, ...] = ()) -> dict[str, Any]:
        """One opportunity, with the named relations expanded into objects."""
        path = _object_path("/opportunities/", opportunity_id)
        params = {"expand": list(expand)} if expand else None
        return _data_of(self._request("GET", path, params=params), f"GET {path}")

    def offers(self, opportunity_id: str) -> list[dict[str, Any]]:
        """Every offer of an opportunity, whatever its status."""
        path = _object_path("/opportunities/", opportunity_id) + "/offers"
        return [offer for page in self._follow(path, {}) for offer in page]

    def get_posting(self, posting_id: str) -> dict[str, Any]:
        """One job posting (its categories hold department, team and location)."""
        path = _object_path("/postings/", posting_id)
        return _data_of(self._request("GET", path), f"GET {path}")

    def archive_reasons(self, **filters: Any) -> list[dict[str, Any]]:
        """Every archive reason (filter `type`: hired or non-hired)."""
        params = {key: _query_value(value) for key, value in filters.items()}
        return [reason for page in self._follow("/archive_reasons", params) for reason in page]

    # -- audit events (a paid add-on) --------------------------------------------------------

    def iter_audit_event_pages(
        self, *, limit: int = MAX_PAGE_SIZE, **filters: Any
    ) -> Iterator[list[dict[str, Any]]]:
        """Raw audit events a page at a time, newest first (403 without Lever's add-on)."""
        params = _list_params(limit, False, filters)
        yield from self._follow("/audit_events", params)

    def iter_audit_events(self, **kw: Any) -> Iterator[dict[str, Any]]:
        """Raw audit events one at a time; takes the same arguments as `iter_audit_event_pages`."""
        for page in self.iter_audit_event_pages(**kw):
            yield from page

    def _write_user(self, method: str, path: str, user_id: str, json: Any = None) -> dict[str, Any]:
        """Send a change to one user and return it, reading it back if Lever sent no body."""
        body = self._request(method, path, json=json)
        return self.get_user(user_id) if body is None else _user_of(body, f"{method} {path}")

    def _get_page(self, path: str, params: dict[str, Any]) -> dict[str, Any]:
        """One page of a list endpoint, checked to be Lever's list envelope."""
        body = self._request("GET", path, params=params)
        if not (isinstance(body, dict) and isinstance(body.get("data"), list)):
            raise PaginationError(
                f'Lever answered GET {path} with something other than a page {{"data": [...]}}:'
                f" got {_shape(body)}",
                secrets=self.__secrets,
            )
        return body

    # -- transport --------------------------------------------------------------------------

    def _request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        idempotent: bool = True,
    ) -> Any:
        """Send one request, retrying transient failures within the budget; the decoded body."""
        started = self._clock()
        tries = 0
        while True:
            tries += 1
            try:
                return self._attempt(method, path, params, json)
            except RetriableError as exc:
                delay = self._retry_delay(exc, tries, started, idempotent)
                if delay is None:
                    raise self._give_up(exc, tries, started, idempotent) from exc
                self._stats.retried()
                self._log_retry(method, path, exc, tries, delay)
                self._sleep(delay)

    def _attempt(self, method: str, path: str, params: Any, json: Any) -> Any:
        """One paced try: send, map the status, decode the body."""
        self._bucket.acquire()
        response = self._counted_send(method, path, params, json)
        self._raise_for_status(method, path, response)
        return self._decode(response)

    def _counted_send(self, method: str, path: str, params: Any, json: Any) -> requests.Response:
        """Send, counting the try under the status that came back, or NETWORK if none did."""
        try:
            response = self._send(method, path, params, json)
        except RetriableError:
            self._stats.sent(NETWORK)
            raise
        self._stats.sent(str(response.status_code))
        return response

    def _send(self, method: str, path: str, params: Any, json: Any) -> requests.Response:
        """The HTTP exchange itself; network failures become RetriableError without a secret."""
        try:
            return self._http.request(
                method,
                self.base_url + path,
                params=params,
                json=json,
                auth=self.__auth,
                timeout=self._timeout,
            )
        except requests.Timeout as exc:
            failure = f"timed out after {self._timeout:g} s ({type(exc).__name__})"
            applied = not isinstance(exc, requests.ConnectTimeout)
        except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
            failure, applied = _network_failure(exc), _maybe_sent(exc)
        # Raised outside the handler so the requests error, which holds our headers, is not kept.
        raise RetriableError(failure, maybe_applied=applied, secrets=self.__secrets)

    def _raise_for_status(self, method: str, path: str, response: requests.Response) -> None:
        """The one place an HTTP status becomes an exception; branches on the status only."""
        status = response.status_code
        if status < 400:
            return
        said = self._lever_says(response)
        if status in RETRIABLE_STATUSES:
            raise RetriableError(
                f"HTTP {status} ({': '.join(filter(None, said)) or 'no details'})",
                status=status,
                retry_after=self._retry_after(response),
                maybe_applied=status not in NOT_APPLIED_STATUSES,
                secrets=self.__secrets,
            )
        log.info("Lever answered %s %s with HTTP %s: %s", method, path, status, ": ".join(said))
        if status == 401:
            raise LeverAuthError()
        if status == 403:
            raise LeverPermissionError()
        if status == 404:
            raise LeverNotFoundError(path, secrets=self.__secrets)
        raise LeverRequestError(status, *said, request=f"{method} {path}", secrets=self.__secrets)

    def _lever_says(self, response: requests.Response) -> tuple[str, str]:
        """Lever's error `code` and `message`, scrubbed; for logs and messages, never branching."""
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict):
            code, message = str(body.get("code") or ""), str(body.get("message") or "")
        else:
            code, message = "", response.text[:200]
        return scrub(code, self.__secrets), scrub(message, self.__secrets)

    def _decode(self, response: requests.Response) -> Any:
        """The JSON body (None for an empty write answer); garbage is worth another try."""
        if response.status_code == 204 or (
            not response.content and response.request.method != "GET"
        ):
            return None
        try:
            return response.json()
        except ValueError:
            pass
        raise RetriableError(
            f"HTTP {response.status_code} with a body that is not JSON"
            f" ({len(response.content)} bytes)"
        )

    def _retry_after(self, response: requests.Response) -> float | None:
        """Lever's Retry-After hint in seconds (a number or an HTTP date), if it sent one."""
        value = response.headers.get("Retry-After", "").strip()
        if not value:
            return None
        try:
            return max(0.0, float(value))
        except ValueError:
            return self._seconds_until(value, response.headers.get("Date"))

    def _seconds_until(self, http_date: str, server_date: str | None) -> float | None:
        """Seconds from now (by Lever's Date header when present) to an HTTP date."""
        when = _parse_http_date(http_date)
        if when is None:
            return None
        now = _parse_http_date(server_date or "") or self._now()
        return max(0.0, (when - now).total_seconds())

    def _retry_delay(
        self, exc: RetriableError, tries: int, started: float, idempotent: bool
    ) -> float | None:
        """How long to wait before the next try, or None when it is time to give up."""
        if tries >= self._max_tries or (exc.maybe_applied and not idempotent):
            return None
        delay = exc.retry_after if exc.retry_after is not None else self._backoff(tries)
        if self._clock() - started + delay > self._retry_budget:
            return None
        return delay

    def _backoff(self, tries: int) -> float:
        """Exponential backoff with full jitter, so many clients do not retry in step."""
        return self._rng() * min(BACKOFF_CAP, BACKOFF_BASE * 2 ** (tries - 1))

    def _give_up(
        self, exc: RetriableError, tries: int, started: float, idempotent: bool
    ) -> LeverUnavailableError:
        """The error that ends the retries, naming how long we tried and the last failure."""
        note = ""
        if exc.maybe_applied and not idempotent:
            note = "; not sent again because Lever may have acted on it: check Lever first"
        elapsed = self._clock() - started
        return LeverUnavailableError(tries, elapsed, exc, note=note, secrets=self.__secrets)

    def _log_retry(
        self, method: str, path: str, exc: RetriableError, tries: int, delay: float
    ) -> None:
        """One warning per retry; the failure text was scrubbed when the error was made."""
        log.warning(
            "Lever %s %s: attempt %d failed (status %s, %s); retrying in %.2f s",
            method,
            path,
            tries,
            exc.status,
            exc,
            delay,
        )


# -- helpers ------------------------------------------------------------------------------


def _secrets_of(api_key: str, password: str) -> tuple[str, ...]:
    """Everything that would betray the credential: key, real password, Basic auth tokens."""
    secrets = [api_key]
    if len(password.strip()) >= 4:  # a short placeholder such as " " or "x" is no secret
        secrets.append(password)
    for pair in {f"{api_key}:{password}", f"{api_key}:"}:
        secrets.append(base64.b64encode(pair.encode()).decode())
    return tuple(s for s in secrets if s)


def _check_base_url(url: str, secrets: tuple[str, ...]) -> str:
    """The base URL without a trailing slash, if it is a plain http(s) URL."""
    parts = _url_parts(url.strip())
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConnectorConfigError(
            f"Lever base URL must be an http(s) URL such as {DEFAULT_BASE_URL}, got {url!r}",
            secrets=secrets,
        )
    if parts.username or parts.password or parts.query or parts.fragment:
        raise ConnectorConfigError(
            "Lever base URL must not hold a user name, password, query or fragment:"
            f" use a plain URL such as {DEFAULT_BASE_URL}"
        )
    return url.strip().rstrip("/")


def _url_parts(url: str) -> SplitResult | None:
    """The URL's parts, or None if it cannot be parsed (a bad port, a broken IPv6 address)."""
    try:
        parts = urlsplit(url)
        _ = parts.port
    except ValueError:
        return None
    return parts


def _check_settings(
    api_key: str,
    max_rps: float,
    burst: int,
    timeout: float,
    retry_budget: float,
    max_tries: int,
) -> None:
    """Refuse settings the client cannot work with, naming the one to fix."""
    problems = {
        "Lever API key is empty: put the key in the credential's username": not api_key.strip(),
        f"max_rps must be 0 (unpaced) or more, got {max_rps}": max_rps < 0,
        f"burst must be 1 or more, got {burst}": burst < 1,
        f"timeout must be more than 0 s, got {timeout}": timeout <= 0,
        f"retry_budget must be 0 s or more, got {retry_budget}": retry_budget < 0,
        f"max_tries must be 1 or more, got {max_tries}": max_tries < 1,
    }
    for message, wrong in problems.items():
        if wrong:
            raise ConnectorConfigError(message)


def _list_params(limit: int, include_deactivated: bool, filters: dict[str, Any]) -> dict[str, Any]:
    """Query parameters of GET /users; `includeDeactivated` goes out as lowercase `true`."""
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise ConnectorConfigError(f"Lever page size must be 1 to {MAX_PAGE_SIZE}, got {limit}")
    params = {key: _query_value(value) for key, value in filters.items()}
    params["limit"] = limit
    if include_deactivated:
        params["includeDeactivated"] = "true"
    return params


def _query_value(value: Any) -> Any:
    """Booleans as Lever spells them (`true`), everything else as given."""
    return str(value).lower() if isinstance(value, bool) else value


def _next_token(page: dict[str, Any], secrets: tuple[str, ...]) -> str | None:
    """The token for the next page, or None on the last page (`hasNext` false or no `next`)."""
    token = page.get("next")
    if page.get("hasNext") is False or not token:
        return None
    if not isinstance(token, str):
        raise PaginationError(
            f"Lever's page token is not a string: got {_shape(token)}", secrets=secrets
        )
    return token


def _user_path(user_id: str) -> str:
    """The path of one user, the id quoted so it can never step into another path."""
    return _object_path("/users/", user_id, "user")


def _object_path(prefix: str, object_id: str, what: str = "object") -> str:
    """The path of one object, the id quoted so it can never step into another path."""
    if not isinstance(object_id, str) or not object_id.strip():
        raise ValueError(f"a Lever {what} id must be a non-empty string, got {object_id!r}")
    return prefix + quote(object_id, safe="")


def _user_of(body: Any, request: str) -> dict[str, Any]:
    """The user object inside Lever's `{"data": user}` answer."""
    return _data_of(body, request, "a user")


def _data_of(body: Any, request: str, what: str = "an object") -> dict[str, Any]:
    """The object inside Lever's `{"data": object}` answer."""
    if isinstance(body, dict) and isinstance(body.get("data"), dict):
        return body["data"]
    raise LeverResponseError(f'Lever answered {request} without {what} under "data"')


def _shape(value: Any) -> str:
    """A short description of an unexpected JSON value, without echoing its content."""
    if isinstance(value, dict):
        return f"an object with keys {sorted(value)[:5]}"
    return f"a JSON {type(value).__name__}"


def _network_failure(exc: requests.RequestException) -> str:
    """A one-line account of a network failure, its innermost reason included."""
    wrapped = exc.args[0] if exc.args else exc
    return f"connection failed ({type(exc).__name__}: {getattr(wrapped, 'reason', wrapped)})"


def _maybe_sent(exc: requests.RequestException) -> bool:
    """Whether Lever may have received the request (false only if no connection was made)."""
    wrapped = exc.args[0] if exc.args else None
    return not isinstance(getattr(wrapped, "reason", None), NewConnectionError)


def _parse_http_date(text: str) -> datetime | None:
    """An HTTP date as an aware datetime, or None if it is not one."""
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)
