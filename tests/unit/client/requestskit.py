"""A requests transport that answers from a function, as HTTPAdapter would ask a server."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import requests
from requests.adapters import BaseAdapter

Answer = Callable[[requests.PreparedRequest, bytes], tuple[int, Mapping[str, str]]]
"""The request and its body to the status and headers the "server" answers with."""


class AnsweringAdapter(BaseAdapter):
    def __init__(self, answer: Answer) -> None:
        super().__init__()
        self._answer = answer

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float, float] | tuple[float, None] | None = None,
        verify: bool | str = True,
        cert: bytes | str | tuple[bytes | str, bytes | str] | None = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        body = request.body if isinstance(request.body, bytes) else b""
        status, headers = self._answer(request, body)
        response = requests.Response()
        response.status_code, response.request, response.url = status, request, request.url or ""
        response.headers.update(headers)
        response._content = b"{}"
        response.connection = self  # type: ignore[assignment]  # HTTPAdapter sets itself here
        return response

    def close(self) -> None:
        """Nothing to release."""
