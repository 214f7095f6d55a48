"""The call-control tools: the end-call tool always, transfers only to numbers staff listed."""

from __future__ import annotations

import json

from realtime_agents.engine import AgentSpec, RunContext, ToolContext, function_tool
from realtime_agents.telephony.call_tools import (
    END_CALL_TOOL,
    TRANSFER_CALL_TOOL,
    add_call_control_tools,
    call_control_tools,
)


class RecordingControl:
    """A CallControl that remembers what it was asked to do."""

    def __init__(self) -> None:
        self.actions: list[tuple[str, str]] = []

    async def hang_up(self) -> None:
        self.actions.append(("hang_up", ""))

    async def transfer(self, number: str) -> None:
        self.actions.append(("transfer", number))


async def invoke(tool, agent: AgentSpec, **arguments: object) -> object:
    raw = json.dumps(arguments)
    context = ToolContext(run_context=RunContext(context=None), call_id="c1", tool_name=tool.name,
                          agent=agent, arguments=raw)
    return await tool.on_invoke_tool(context, raw)


async def test_end_call_hangs_up_and_no_transfer_tool_without_numbers() -> None:
    control = RecordingControl()
    tools = call_control_tools(control)
    assert [tool.name for tool in tools] == [END_CALL_TOOL]
    assert tools[0].starts_response is False
    assert await invoke(tools[0], AgentSpec(name="a")) == "The call is ending."
    assert control.actions == [("hang_up", "")]


async def test_transfer_goes_only_to_listed_numbers() -> None:
    control = RecordingControl()
    tools = {tool.name: tool for tool in call_control_tools(control, transfer_numbers=["+442079460958"])}
    transfer = tools[TRANSFER_CALL_TOOL]
    assert "+442079460958" in transfer.description
    assert transfer.params_json_schema["required"] == ["number"]
    refused = await invoke(transfer, AgentSpec(name="a"), number="+19005550100")
    assert refused == "Cannot transfer to '+19005550100': choose one of +442079460958."
    assert control.actions == []
    assert await invoke(transfer, AgentSpec(name="a"), number=" +442079460958 ") == "Transferring the call to +442079460958."
    assert control.actions == [("transfer", "+442079460958")]


def test_every_agent_gets_the_tools_once() -> None:
    @function_tool
    def lookup() -> str:
        """Look something up."""
        return "x"

    first, second = AgentSpec(name="a", tools=[lookup]), AgentSpec(name="b")
    tools = call_control_tools(RecordingControl())
    add_call_control_tools([first, second], tools)
    add_call_control_tools([first, second], tools)
    assert [tool.name for tool in first.tools] == ["lookup", END_CALL_TOOL]
    assert [tool.name for tool in second.tools] == [END_CALL_TOOL]
