"""The runner: binds a starting agent, a model transport and a run configuration into sessions."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .agent import AgentSpec
from .config import ModelConfig, RunConfig, normalize_model_config, normalize_run_config
from .model import Model
from .session import Session


class Runner:
    """Creates sessions for `starting_agent`; `run()` does no I/O until the session is entered."""

    def __init__(self, starting_agent: AgentSpec, *, model: Model | None = None,
                 config: Mapping[str, Any] | RunConfig | None = None) -> None:
        if not isinstance(starting_agent, AgentSpec):
            raise TypeError(f"starting_agent must be an AgentSpec, not {type(starting_agent).__name__}")
        self.starting_agent = starting_agent
        self._model = model
        # Normalised now, so a bad configuration fails where it is written, not at connect time.
        self.config = config if isinstance(config, RunConfig) else normalize_run_config(config)

    async def run(self, *, context: Any = None,
                  model_config: Mapping[str, Any] | ModelConfig | None = None) -> Session:
        """A new session (not yet connected); use it as `async with session:`."""
        normalized = model_config if isinstance(model_config, ModelConfig) else normalize_model_config(model_config)
        model = self._model
        if model is None:
            from .openai_realtime import OpenAIRealtimeModel

            model = OpenAIRealtimeModel()
        return Session(model=model, agent=self.starting_agent, context=context, run_config=self.config,
                       model_config=normalized)
