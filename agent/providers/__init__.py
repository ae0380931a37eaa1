"""Concrete speech and dialog providers behind the seams of :mod:`agent.interfaces`.

Local (no account): :mod:`~agent.providers.whisper_stt`, :mod:`~agent.providers.piper_tts`.
Cloud: :mod:`~agent.providers.azure_stt`, :mod:`~agent.providers.openai_dialog`,
:mod:`~agent.providers.elevenlabs_tts`. :mod:`~agent.providers.factory` chooses among them.

Kept free of imports: decoder child processes import this package on start-up.
"""
