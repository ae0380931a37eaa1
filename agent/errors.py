"""The agent's own errors (provider failures are :class:`agent.interfaces.ProviderError`).

AgentError
 └── SpeechUnavailable   no voice left to speak with: every text-to-speech provider failed
"""

from __future__ import annotations


class AgentError(Exception):
    """Base of the errors raised by the agent itself."""


class SpeechUnavailable(AgentError):
    """Neither the voice nor its fallback could synthesize; the session can no longer talk to the caller."""
