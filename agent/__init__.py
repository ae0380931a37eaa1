"""The streaming voice agent, transport-agnostic: caller audio in, agent audio and call actions out.

Entry point: :class:`agent.session.CallSession`, configured by :mod:`agent.config`, speaking through the seams
in :mod:`agent.interfaces`; in-memory fakes of those seams live in :mod:`agent.fakes`.
"""
