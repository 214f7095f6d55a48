"""HTTP tools against a real server on 127.0.0.1: success, errors, limits, SSRF guard, secrets."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from realtime_agents.engine.agent import AgentSpec, RunContext
from realtime_agents.engine.tools import ToolArgumentsError, ToolContext
from realtime_agents.http_tools import (
    HttpToolSpec,
    address_allowed,
    build_request,
    call_http_tool,
    http_function_tool,
)
from tests.httpserver import _Server, running_server

SECRETS = {"TOKEN": "s3cret-value"}


def lookup(name: str) -> str | None:
    return SECRETS.get(name)


@pytest.fixture(scope="module")
def server() -> Iterator[_Server]:
    with running_server() as srv:
        yield srv


def base(server: _Server) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}"


def spec(url: str, **overrides: Any) -> HttpToolSpec:
    values: dict[str, Any] = {
        "name": "lookup",
        "description": "Look something up",
        "url": url,
        "allow_private_networks": True,
        "parameters_schema": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
        "timeout": 5.0,
    }
    values.update(overrides)
    return HttpToolSpec(**values)


def tool_context() -> ToolContext:
    return ToolContext(
        run_context=RunContext(), call_id="call_1", tool_name="lookup", agent=AgentSpec(name="a")
    )


async def test_get_sends_arguments_as_query_and_returns_the_body(server: _Server) -> None:
    out = await call_http_tool(spec(base(server) + "/weather"), {"city": "Paris"}, secrets=lookup)
    echo = json.loads(out)
    assert echo["method"] == "GET" and echo["path"] == "/weather" and echo["query"] == {"city": "Paris"}


async def test_post_sends_json_and_fills_path_placeholders(server: _Server) -> None:
    schema = {"type": "object", "properties": {"city": {"type": "string"}, "days": {"type": "integer"}}}
    out = await call_http_tool(
        spec(base(server) + "/forecast/{city}", method="POST", parameters_schema=schema),
        {"city": "New York", "days": 3},
        secrets=lookup,
    )
    echo = json.loads(out)
    assert echo["path"] == "/forecast/New%20York"
    assert echo["body"] == {"days": 3}


async def test_secret_references_in_headers_are_resolved_at_call_time(server: _Server) -> None:
    headers = {"Authorization": "Bearer {secret:TOKEN}", "Accept": "application/json"}
    out = await call_http_tool(spec(base(server) + "/x", headers=headers), {"city": "a"}, secrets=lookup)
    echo = json.loads(out)
    assert echo["headers"]["authorization"] == "Bearer s3cret-value"
    assert echo["headers"]["accept"] == "application/json"


async def test_a_missing_secret_refuses_the_call_without_sending_it(server: _Server) -> None:
    before = len(server.requests)
    out = await call_http_tool(
        spec(base(server) + "/x", headers={"X-Api-Key": "{secret:MISSING}"}), {"city": "a"}, secrets=lookup
    )
    assert "MISSING" in json.loads(out)["error"]
    assert len(server.requests) == before


async def test_error_status_becomes_tool_output(server: _Server) -> None:
    out = json.loads(await call_http_tool(spec(base(server) + "/error"), {"city": "a"}, secrets=lookup))
    assert out["status"] == 503
    assert "503" in out["error"]
    assert "maintenance" in out["body"]


async def test_timeout_becomes_tool_output(server: _Server) -> None:
    out = json.loads(
        await call_http_tool(spec(base(server) + "/slow", timeout=0.3), {"city": "a"}, secrets=lookup)
    )
    assert out == {"error": "the service did not answer within 0.3 seconds"}


@pytest.mark.parametrize("path", ["/big", "/big-declared"])
async def test_oversized_body_is_refused_while_streaming(server: _Server, path: str) -> None:
    out = json.loads(
        await call_http_tool(
            spec(base(server) + path, max_response_bytes=4096), {"city": "a"}, secrets=lookup
        )
    )
    assert out["error"] == "the answer was larger than 4096 bytes"


async def test_empty_success_says_ok(server: _Server) -> None:
    out = json.loads(await call_http_tool(spec(base(server) + "/empty"), {"city": "a"}, secrets=lookup))
    assert out == {"ok": True, "status": 204}


async def test_private_addresses_are_refused_unless_allowed(server: _Server) -> None:
    before = len(server.requests)
    out = json.loads(
        await call_http_tool(
            spec(base(server) + "/x", allow_private_networks=False), {"city": "a"}, secrets=lookup
        )
    )
    assert "private" in out["error"]
    assert len(server.requests) == before


async def test_the_checked_address_is_the_one_connected_to(server: _Server) -> None:
    port = server.server_address[1]
    lookups: list[str] = []

    async def resolver(host: str, port: int) -> list[str]:
        lookups.append(host)
        return ["127.0.0.1"]

    # The system resolver cannot resolve this name: reaching the server proves the pinned address is used.
    out = await call_http_tool(
        spec(f"http://weather.invalid:{port}/pinned"), {"city": "a"}, secrets=lookup, resolver=resolver
    )
    echo = json.loads(out)
    assert echo["path"] == "/pinned"
    assert echo["headers"]["host"] == f"weather.invalid:{port}"
    assert lookups == ["weather.invalid"]


async def test_a_name_resolving_to_any_private_address_is_refused() -> None:
    async def resolver(host: str, port: int) -> list[str]:
        return ["93.184.216.34", "10.1.2.3"]

    out = json.loads(
        await call_http_tool(
            spec("http://rebind.invalid/x", allow_private_networks=False),
            {"city": "a"},
            secrets=lookup,
            resolver=resolver,
        )
    )
    assert "private" in out["error"]


async def test_unresolvable_host_becomes_tool_output() -> None:
    async def resolver(host: str, port: int) -> list[str]:
        raise OSError("no such host")

    out = json.loads(
        await call_http_tool(
            spec("http://nowhere.invalid/x"), {"city": "a"}, secrets=lookup, resolver=resolver
        )
    )
    assert "could not be resolved" in out["error"]


async def test_connection_refused_becomes_tool_output() -> None:
    with running_server() as srv:
        url = base(srv) + "/x"
    out = json.loads(await call_http_tool(spec(url), {"city": "a"}, secrets=lookup))
    assert "could not be reached" in out["error"]


@pytest.mark.parametrize(
    ("address", "allowed"),
    [
        ("127.0.0.1", False),
        ("10.0.0.8", False),
        ("172.16.3.4", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),
        ("100.64.0.1", False),
        ("0.0.0.0", False),
        ("224.0.0.1", False),
        ("::1", False),
        ("fe80::1", False),
        ("fc00::1", False),
        ("::ffff:127.0.0.1", False),
        ("93.184.216.34", True),
        ("2606:4700:4700::1111", True),
    ],
)
def test_address_classification(address: str, allowed: bool) -> None:
    assert address_allowed(address) is allowed


async def test_function_tool_validates_arguments_against_the_schema(server: _Server) -> None:
    tool = http_function_tool(spec(base(server) + "/x"), secrets=lookup, needs_approval=True)
    assert tool.needs_approval is True and tool.params_json_schema["required"] == ["city"]
    with pytest.raises(ToolArgumentsError, match="city"):
        await tool.on_invoke_tool(tool_context(), json.dumps({"town": "Paris"}))
    with pytest.raises(ToolArgumentsError, match="JSON"):
        await tool.on_invoke_tool(tool_context(), "{not json")
    out = await tool.on_invoke_tool(tool_context(), json.dumps({"city": "Paris"}))
    assert json.loads(out)["query"] == {"city": "Paris"}


def test_spec_refuses_bad_configuration() -> None:
    with pytest.raises(ValueError, match="method"):
        spec("http://example.com", method="TRACE")
    with pytest.raises(ValueError, match="positive"):
        spec("http://example.com", timeout=0)
    with pytest.raises(Exception, match="is not valid"):
        spec("http://example.com", parameters_schema={"type": "nonsense"})


def test_build_request_encodes_query_values() -> None:
    url, params, body = build_request(
        spec("https://api.example.com/{city}/now"),
        {"city": "São Paulo", "metric": True, "tags": ["a"], "x": None},
    )
    assert url == "https://api.example.com/S%C3%A3o%20Paulo/now"
    assert params == {"metric": "true", "tags": '["a"]'}
    assert body is None
