"""Demo-like agents for the offline model tests: weather, a long menu, a booking agent behind a handoff."""
from __future__ import annotations

from typing import Any

from realtime_agents.engine import AgentSpec, function_tool, realtime_handoff

MENU = ("Today we have tomato soup with fresh basil. Then roast chicken with lemon and thyme. "
        "There is also a mushroom risotto for vegetarians. For dessert we serve apple pie with cream. "
        "Finally there is a cheese plate with three local cheeses. All mains come with bread and salad.")


def build_agents(calls: list[tuple[str, dict[str, Any]]]) -> tuple[AgentSpec, AgentSpec]:
    """(triage, booking): triage has weather and menu tools and a handoff to booking; calls are recorded."""

    @function_tool
    def get_weather(city: str) -> str:
        """Get the current weather for a city, for example Paris, London, Tokyo or Berlin."""
        calls.append(("get_weather", {"city": city}))
        return f"It is sunny and 21 degrees in {city}."

    @function_tool
    def read_menu() -> str:
        """Read today's restaurant menu aloud."""
        calls.append(("read_menu", {}))
        return MENU

    @function_tool
    def book_table(party_size: int, time: str) -> str:
        """Book a restaurant table for a number of people at a time."""
        calls.append(("book_table", {"party_size": party_size, "time": time}))
        return f"Your table for {party_size} at {time} is booked."

    booking = AgentSpec(name="Booking", instructions="You book tables.", tools=[book_table],
                        handoff_description="Books restaurant tables and reservations.")
    triage = AgentSpec(name="Concierge", instructions="You help guests.", tools=[get_weather, read_menu],
                       handoffs=[realtime_handoff(booking)])
    return triage, booking
