"""Twilio's playback queue on a simulated clock. Pure: every operation is told the time.

Twilio buffers the server's ``media`` and plays it in order at the line rate (8000 bytes of mu-law a second),
echoes a ``mark`` once everything queued before it has played (at once if nothing is queued), and on ``clear``
drops what has not played and echoes every pending mark. While nothing is queued the line carries silence.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from telephony.audio import ULAW_BYTES_PER_SECOND, ULAW_SILENCE


@dataclass(frozen=True, slots=True)
class Played:
    """What happened on the line since the previous operation."""

    audio: bytes
    """Mu-law that played, silence included where nothing was queued: a continuous timeline."""
    marks: tuple[str, ...]
    """Marks now due for echo, in order."""


class PlaybackBuffer:
    """The agent's audio queued on the simulated line. ``now`` values must not go backwards."""

    def __init__(self, *, start: float, bytes_per_second: int = ULAW_BYTES_PER_SECOND) -> None:
        self._start = start
        self._rate = bytes_per_second
        self._emitted = 0
        self._queue: deque[bytes | str] = deque()  # audio chunks and mark names, in arrival order
        self._head_offset = 0
        self._queued_bytes = 0
        self._idle_since: float | None = start

    @property
    def queued_bytes(self) -> int:
        """Audio not yet played as of the last operation."""
        return self._queued_bytes

    @property
    def is_playing(self) -> bool:
        return self._queued_bytes > 0

    @property
    def idle_since(self) -> float | None:
        """When the queue last ran dry (None while audio is playing)."""
        return self._idle_since

    def silent_since(self, now: float) -> float | None:
        """When the line last fell silent, as of ``now`` (None while agent audio is playing)."""
        if not self._queued_bytes:
            return self._idle_since
        ends = self._start + (self._emitted + self._queued_bytes) / self._rate
        return ends if ends <= now else None

    def advance(self, now: float) -> Played:
        """Play everything due up to ``now``."""
        budget = max(int((now - self._start) * self._rate) - self._emitted, 0)
        self._emitted += budget
        pieces: list[bytes] = []
        marks: list[str] = []
        queue = self._queue
        while queue:
            head = queue[0]
            if isinstance(head, str):
                marks.append(head)
                queue.popleft()
                continue
            if not budget:
                break
            available = len(head) - self._head_offset
            take = min(available, budget)
            pieces.append(head[self._head_offset : self._head_offset + take])
            budget -= take
            self._queued_bytes -= take
            if take == available:
                queue.popleft()
                self._head_offset = 0
            else:
                self._head_offset += take
        if not self._queued_bytes and self._idle_since is None:
            self._idle_since = now - budget / self._rate
        if budget:
            pieces.append(ULAW_SILENCE * budget)
        return Played(b"".join(pieces), tuple(marks))

    def push_audio(self, ulaw: bytes, now: float) -> Played:
        """Queue agent audio behind whatever is still playing."""
        played = self.advance(now)
        if ulaw:
            self._queue.append(ulaw)
            self._queued_bytes += len(ulaw)
            self._idle_since = None
        return played

    def push_mark(self, name: str, now: float) -> Played:
        """Queue a mark; it is due at once when nothing is queued."""
        played = self.advance(now)
        if not self._queue:
            return Played(played.audio, (*played.marks, name))
        self._queue.append(name)
        return played

    def clear(self, now: float) -> Played:
        """Drop all unplayed audio; every pending mark is due at once."""
        played = self.advance(now)
        pending = tuple(item for item in self._queue if isinstance(item, str))
        self._queue.clear()
        self._head_offset = 0
        self._queued_bytes = 0
        if self._idle_since is None:
            self._idle_since = now
        return Played(played.audio, played.marks + pending)
