"""The HTTP client the bot talks to the Bot API with: aiohttp behind PTB's BaseRequest.

PTB's default, HTTPXRequest, spends about 0.55 ms of CPU per request in httpx, httpcore and
anyio; aiohttp's client, with its C HTTP parser, about 0.11 ms (same local server, same
payload). Every answer costs a sendMessage and a share of a getUpdates, and one process
answers on one core, so this is most of what is left of the bot's own cost per answer
after the engine. This class keeps HTTPXRequest's contract: the same default timeouts,
TimedOut for a timeout (saying so when the request was never sent because no connection
came free) and NetworkError for any other transport failure; the status and body go back
to PTB, which turns Telegram's errors into exceptions exactly as before.
"""

from __future__ import annotations

import aiohttp
from aiohttp.helpers import get_env_proxy_for_url
from telegram._utils.defaultvalue import DefaultValue
from telegram._utils.types import ODVInput
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData
from yarl import URL

NOT_SENT = (
    "Connection timeout: no free connection to the Bot API (pool full or connecting too "
    "slow). Request was *not* sent to Telegram."
)


def _pick(value: ODVInput[float], default: float | None) -> float | None:
    return default if isinstance(value, DefaultValue) else value


def _sum(first: float | None, second: float | None) -> float | None:
    return None if first is None or second is None else first + second


class AiohttpRequest(BaseRequest):
    """A BaseRequest on one aiohttp session; timeouts in seconds, None for none.

    aiohttp has no write timeout of its own: `write_timeout` (and `media_write_timeout` for
    uploads) bound the whole request, added to the read timeout."""

    def __init__(
        self,
        connection_pool_size: int = 1,
        *,
        read_timeout: float | None = 5.0,
        write_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        pool_timeout: float | None = 1.0,
        media_write_timeout: float | None = 20.0,
    ) -> None:
        self.connection_pool_size = connection_pool_size
        self._read_timeout = read_timeout
        self._write_timeout = write_timeout
        self._connect_timeout = connect_timeout
        self._pool_timeout = pool_timeout
        self._media_write_timeout = media_write_timeout
        self._session: aiohttp.ClientSession | None = None
        self._proxies: dict[str, tuple[URL | None, aiohttp.BasicAuth | None]] = {}

    @property
    def read_timeout(self) -> float | None:
        """The default read timeout (PTB adds it to getUpdates' long-poll timeout)."""
        return self._read_timeout

    async def initialize(self) -> None:
        """Open the session (it must be made on the running event loop)."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self.connection_pool_size),
                headers={"User-Agent": self.USER_AGENT},
                # Proxies come from _proxy_for: with trust_env, aiohttp reads the
                # environment and ~/.netrc again for every request, in a worker thread.
                trust_env=False,
            )

    def _proxy_for(self, url: str) -> tuple[URL | None, aiohttp.BasicAuth | None]:
        """The proxy the environment asks for (HTTPS_PROXY, NO_PROXY and friends, as httpx
        honours them), looked up once per scheme and host: the bot talks to one."""
        parsed = URL(url)
        origin = f"{parsed.scheme}://{parsed.host}:{parsed.port}"
        found = self._proxies.get(origin)
        if found is None:
            try:
                found = get_env_proxy_for_url(parsed)
            except LookupError:  # no proxy for this host
                found = (None, None)
            self._proxies[origin] = found
        return found

    async def shutdown(self) -> None:
        """Close the session and its connections."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """Send one request; return its status code and body."""
        session = self._session
        if session is None or session.closed:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        files = request_data.multipart_data if request_data else None
        data: aiohttp.FormData | dict[str, str] | None = None
        if request_data is not None:
            data = request_data.json_parameters
            if files:
                form = aiohttp.FormData(data)
                for name, (filename, content, mime_type) in files.items():
                    form.add_field(name, content, filename=filename, content_type=mime_type)
                data = form
        read = _pick(read_timeout, self._read_timeout)
        connect = _pick(connect_timeout, self._connect_timeout)
        pool = _pick(pool_timeout, self._pool_timeout)
        write = _pick(write_timeout, self._media_write_timeout if files else self._write_timeout)
        timeout = aiohttp.ClientTimeout(
            total=_sum(_sum(write, read), _sum(pool, connect)),
            connect=_sum(pool, connect),  # aiohttp: waiting for the pool + connecting
            sock_connect=connect,
            sock_read=read,
        )
        proxy, proxy_auth = self._proxy_for(url)
        try:
            async with session.request(
                method, url, data=data, timeout=timeout, proxy=proxy, proxy_auth=proxy_auth
            ) as response:
                return response.status, await response.read()
        except aiohttp.ConnectionTimeoutError as exc:
            raise TimedOut(NOT_SENT) from exc
        except TimeoutError as exc:
            raise TimedOut from exc
        except aiohttp.ClientError as exc:
            raise NetworkError(f"aiohttp.{type(exc).__name__}: {exc}") from exc
