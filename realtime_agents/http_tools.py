"""HTTP tools: call a configured endpoint with validated arguments, behind an SSRF guard."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import re
import socket
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx
from jsonschema import Draft202012Validator

from .engine.tools import FunctionTool, ToolArgumentsError, ToolContext, parse_arguments

logger = logging.getLogger("realtime_agents.http_tools")

Resolver = Callable[[str, int], Awaitable[list[str]]]
SecretLookup = Callable[[str], "str | None"]

BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
EMPTY_PARAMETERS: dict[str, Any] = {"type": "object", "properties": {}, "additionalProperties": False}
_SECRET = re.compile(r"\{secret:([A-Za-z_][A-Za-z0-9_]*)\}")
_PLACEHOLDER = re.compile(r"\{([a-zA-Z_][a-zA-Z0-9_]*)\}")
_ERROR_BODY_CHARS = 500


class HttpToolRefused(Exception):
    """The call was not made: the address is not allowed, the host does not resolve, a secret is missing."""


@dataclass(frozen=True, kw_only=True)
class HttpToolSpec:
    """Everything needed to call one HTTP endpoint as a tool."""

    name: str
    description: str
    url: str
    method: str = "GET"
    headers: Mapping[str, str] = field(default_factory=dict)
    parameters_schema: Mapping[str, Any] = field(default_factory=dict)
    timeout: float = 10.0
    max_response_bytes: int = 256 * 1024
    allow_private_networks: bool = False

    def __post_init__(self) -> None:
        if self.method.upper() not in ("GET", "POST", "PUT", "PATCH", "DELETE"):
            raise ValueError(f"HTTP tool {self.name!r}: unsupported method {self.method!r}")
        if self.timeout <= 0 or self.max_response_bytes <= 0:
            raise ValueError(f"HTTP tool {self.name!r}: timeout and max_response_bytes must be positive")
        Draft202012Validator.check_schema(dict(self.parameters_schema))

    def schema(self) -> dict[str, Any]:
        """The parameters schema the model sees (an empty object when none is configured)."""
        return dict(self.parameters_schema) if self.parameters_schema else dict(EMPTY_PARAMETERS)


def _error(message: str, **extra: Any) -> str:
    return json.dumps({"error": message, **extra}, ensure_ascii=False)


def address_allowed(address: str) -> bool:
    """Whether an IP address is public (not loopback, private, link-local, reserved or multicast)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not (ip.is_multicast or ip.is_loopback or ip.is_link_local or ip.is_reserved)


async def system_resolver(host: str, port: int) -> list[str]:
    """Resolve a host name with the event loop's getaddrinfo; IP literals resolve to themselves."""
    try:
        return [str(ipaddress.ip_address(host))]
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def resolve_headers(headers: Mapping[str, str], secrets: SecretLookup) -> dict[str, str]:
    """Fill {secret:NAME} references; a missing secret refuses the call (its value is never logged)."""
    resolved: dict[str, str] = {}
    for name, template in headers.items():

        def fill(match: re.Match[str], header: str = name) -> str:
            value = secrets(match.group(1))
            if value is None:
                raise HttpToolRefused(f"the secret {match.group(1)} for header {header} is not configured")
            return value

        resolved[name] = _SECRET.sub(fill, template)
    return resolved


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def build_request(spec: HttpToolSpec, arguments: dict[str, Any]) -> tuple[str, dict[str, str], Any]:
    """The URL (path placeholders filled), query parameters and JSON body for these arguments."""
    remaining = dict(arguments)

    def fill(match: re.Match[str]) -> str:
        value = remaining.pop(match.group(1), "")
        return quote(_scalar(value), safe="")

    url = _PLACEHOLDER.sub(fill, spec.url)
    method = spec.method.upper()
    if method in BODY_METHODS:
        return url, {}, remaining
    params = {key: _scalar(value) for key, value in remaining.items() if value is not None}
    return url, params, None


async def _pin_address(url: httpx.URL, spec: HttpToolSpec, resolver: Resolver) -> str:
    host = url.host
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        addresses = await resolver(host, port)
    except OSError as exc:
        raise HttpToolRefused(f"the host {host} could not be resolved") from exc
    if not addresses:
        raise HttpToolRefused(f"the host {host} could not be resolved")
    if not spec.allow_private_networks:
        # Any non-public answer refuses the call: a mixed answer is how rebinding attacks start.
        if not all(address_allowed(address) for address in addresses):
            raise HttpToolRefused(
                f"the host {host} is on a private or reserved network, which tools may not call"
            )
    return addresses[0]


async def _read_limited(response: httpx.Response, limit: int) -> bytes | None:
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return None
    body = bytearray()
    async for chunk in response.aiter_bytes():
        body.extend(chunk)
        if len(body) > limit:
            return None
    return bytes(body)


async def call_http_tool(
    spec: HttpToolSpec,
    arguments: dict[str, Any],
    *,
    secrets: SecretLookup,
    resolver: Resolver = system_resolver,
) -> str:
    """Make the call; every failure becomes a JSON `{"error": ...}` string the model can speak about."""
    started = time.monotonic()
    try:
        async with asyncio.timeout(spec.timeout):
            return await _call(spec, arguments, secrets=secrets, resolver=resolver, started=started)
    except TimeoutError:
        logger.info("http tool %s timed out after %.1f s", spec.name, spec.timeout)
        return _error(f"the service did not answer within {spec.timeout:g} seconds")
    except HttpToolRefused as exc:
        logger.warning("http tool %s refused: %s", spec.name, exc)
        return _error(f"the call was not made: {exc}")
    except httpx.HTTPError as exc:
        logger.info("http tool %s failed: %s", spec.name, type(exc).__name__)
        return _error(f"the service could not be reached ({type(exc).__name__})")


async def _call(
    spec: HttpToolSpec,
    arguments: dict[str, Any],
    *,
    secrets: SecretLookup,
    resolver: Resolver,
    started: float,
) -> str:
    url_text, params, body = build_request(spec, arguments)
    url = httpx.URL(url_text)
    if url.scheme not in ("http", "https") or not url.host:
        raise HttpToolRefused("the tool's URL is not an http(s) URL")
    headers = resolve_headers(spec.headers, secrets)
    pinned = await _pin_address(url, spec, resolver)
    # Connect to the address that was checked (no second lookup for rebinding to exploit); the
    # Host header and TLS server name keep the original host so virtual hosts and certificates work.
    headers.setdefault("Host", url.netloc.decode("ascii"))
    extensions = {"sni_hostname": url.host} if url.scheme == "https" else {}
    async with httpx.AsyncClient(trust_env=False, follow_redirects=False, timeout=spec.timeout) as client:
        request = client.build_request(
            spec.method.upper(),
            url.copy_with(host=pinned),
            params=params or None,
            json=body if body is not None else None,
            headers=headers,
            extensions=extensions,
        )
        response = await client.send(request, stream=True)
        try:
            content = await _read_limited(response, spec.max_response_bytes)
        finally:
            await response.aclose()
    elapsed_ms = (time.monotonic() - started) * 1000
    logger.info("http tool %s answered %s in %.0f ms", spec.name, response.status_code, elapsed_ms)
    if content is None:
        return _error(
            f"the answer was larger than {spec.max_response_bytes} bytes", status=response.status_code
        )
    text = content.decode(response.encoding or "utf-8", errors="replace")
    if not 200 <= response.status_code < 300:
        return _error(
            f"the service answered with HTTP status {response.status_code}",
            status=response.status_code,
            body=text[:_ERROR_BODY_CHARS],
        )
    return text if text.strip() else json.dumps({"ok": True, "status": response.status_code})


def validate_arguments(spec: HttpToolSpec, arguments_json: str) -> dict[str, Any]:
    """Decode and check the model's arguments against the schema, or raise ToolArgumentsError."""
    arguments = parse_arguments(arguments_json)
    validator = Draft202012Validator(spec.schema())
    problems = [
        f"{'/'.join(str(p) for p in error.absolute_path) or 'arguments'}: {error.message}"
        for error in sorted(validator.iter_errors(arguments), key=lambda e: list(e.absolute_path))
    ]
    if problems:
        raise ToolArgumentsError("invalid arguments: " + "; ".join(problems[:5]))
    return arguments


def http_function_tool(
    spec: HttpToolSpec,
    *,
    secrets: SecretLookup,
    needs_approval: bool = False,
    starts_response: bool = True,
    resolver: Resolver = system_resolver,
    metadata: Mapping[str, Any] | None = None,
) -> FunctionTool:
    """An engine FunctionTool that validates its arguments and makes the HTTP call."""

    async def invoke(ctx: ToolContext, arguments_json: str) -> str:
        arguments = validate_arguments(spec, arguments_json)
        return await call_http_tool(spec, arguments, secrets=secrets, resolver=resolver)

    return FunctionTool(
        name=spec.name,
        description=spec.description,
        params_json_schema=spec.schema(),
        on_invoke_tool=invoke,
        # A backstop only: the call's own timeout answers first, with a message the model can use.
        timeout=spec.timeout + 5.0,
        needs_approval=needs_approval,
        starts_response=starts_response,
        strict=False,
        metadata={"kind": "http", **(metadata or {})},
    )
