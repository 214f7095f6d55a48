"""The agent's call-control tools on telephony channels: end the call, transfer it to a number.

Both telephony paths (Twilio Media Streams, SIP) give the tools a `CallControl`; the tools only
validate what the model asked for and delegate. Transfers go only to numbers staff listed on the
channel (`Channel.transfer_numbers`): a model talked into dialling an arbitrary number must not be
able to (toll fraud).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol

from ..engine import AgentSpec, FunctionTool, function_tool

END_CALL_TOOL = "end_call"
TRANSFER_CALL_TOOL = "transfer_call"


class CallControl(Protocol):
    """What a telephony path can do to its call."""

    async def hang_up(self) -> None:
        """End the call once the caller has heard what the agent already said."""

    async def transfer(self, number: str) -> None:
        """Hand the call to `number` (E.164), once the caller has heard what the agent already said."""


def call_control_tools(control: CallControl, *, transfer_numbers: Sequence[str] = ()) -> list[FunctionTool]:
    """The end-call tool, and the transfer tool when the channel lists numbers to transfer to."""
    allowed = tuple(transfer_numbers)

    @function_tool(name_override=END_CALL_TOOL, starts_response=False)
    async def end_call() -> str:
        """End the phone call. Say goodbye first: the caller hears what you said, then the line closes."""
        await control.hang_up()
        return "The call is ending."

    tools = [end_call]
    if allowed:

        @function_tool(
            name_override=TRANSFER_CALL_TOOL,
            description_override=(
                "Transfer the caller to a person at one of these numbers: " + ", ".join(allowed)
                + ". Tell the caller first that you are transferring them."
            ),
            starts_response=False,
        )
        async def transfer_call(number: str) -> str:
            """Transfer the call.

            Args:
                number: One of the listed numbers, in E.164 form (+15551234567).
            """
            target = number.strip()
            if target not in allowed:
                return f"Cannot transfer to {target!r}: choose one of {', '.join(allowed)}."
            await control.transfer(target)
            return f"Transferring the call to {target}."

        tools.append(transfer_call)
    return tools


def add_call_control_tools(agents: Iterable[AgentSpec], tools: Sequence[FunctionTool]) -> None:
    """Give every agent of a channel's graph the call-control tools (replacing same-named ones)."""
    names = {tool.name for tool in tools}
    for agent in agents:
        agent.tools[:] = [tool for tool in agent.tools if tool.name not in names] + list(tools)
