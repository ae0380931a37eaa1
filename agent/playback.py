"""What the caller has actually heard of the agent, from the transport's mark echoes.

Audio handed to the transport plays later, at the caller's pace. Each chunk of agent speech is followed by a
mark; the transport echoes it once everything before it has played. On barge-in, the chunks whose marks came
back were heard in full, the chunk playing at that moment was heard in part (estimated in proportion to the
time it had been playing), and the rest were never heard. Echoes that arrive after a clear say nothing about
playback (Twilio echoes every pending mark on clear) and are ignored.

Pure bookkeeping over times handed in; the session owns the clock and the waiting.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from agent.audio import ULAW_BYTES_PER_MS


@dataclass(slots=True, eq=False)
class SpokenChunk:
    """One chunk of agent speech and what became of it."""

    mark: str
    text: str
    audio_bytes: int = 0
    sent_at: float | None = None
    started_at: float | None = None
    """Estimated start of playback at the caller's end."""
    played_at: float | None = None
    """When its mark came back: played in full."""
    heard_chars: int | None = None
    """Set when a barge-in cut it: how much of ``text`` was heard."""

    @property
    def duration_s(self) -> float:
        return self.audio_bytes / ULAW_BYTES_PER_MS / 1000

    @property
    def heard(self) -> str:
        if self.heard_chars is None:
            return self.text
        return self.text[: self.heard_chars]


@dataclass(slots=True, eq=False)
class SpokenReply:
    """One stretch of agent speech (the greeting, a reply, a notice) made of chunks."""

    chunks: list[SpokenChunk] = field(default_factory=list)
    history_index: int | None = None
    """Index of the assistant message holding this reply in the dialog history, once committed."""
    interrupted_at: float | None = None

    @property
    def interrupted(self) -> bool:
        return self.interrupted_at is not None

    @property
    def full_text(self) -> str:
        return " ".join(c.text for c in self.chunks)

    def heard_text(self) -> str:
        """What the caller heard; chunks still queued count as heard unless the reply was interrupted."""
        return " ".join(h for c in self.chunks if (h := c.heard)).strip()

    @property
    def started_at(self) -> float | None:
        return next((c.started_at for c in self.chunks if c.started_at is not None), None)

    @property
    def ended_at(self) -> float | None:
        """When the caller stopped hearing it: the cut, or the last echo, or the estimated end."""
        if self.interrupted_at is not None:
            return self.interrupted_at
        ends = [c.played_at or ((c.started_at or 0) + c.duration_s) for c in self.chunks if c.audio_bytes]
        return max(ends) if ends else None


class PlaybackTracker:
    """Chunks queued at the transport, in playback order, and their fate."""

    def __init__(self) -> None:
        self._queued: deque[SpokenChunk] = deque()
        self._owner: dict[str, SpokenReply] = {}
        self._play_end = 0.0
        self._seq = 0

    @property
    def speaking(self) -> bool:
        """Agent audio is queued or playing at the caller's end (some mark has not come back)."""
        return bool(self._queued)

    def remaining_s(self, now: float) -> float:
        """Estimated time until the queued audio has played."""
        return max(0.0, self._play_end - now) if self._queued else 0.0

    @property
    def audio_ends_at(self) -> float:
        """When the audio queued so far has played (or was cut), on the session's clock."""
        return self._play_end

    def new_chunk(self, reply: SpokenReply, text: str) -> SpokenChunk:
        """Register the next chunk of ``reply``; its mark name is unique within the call."""
        self._seq += 1
        chunk = SpokenChunk(mark=f"m{self._seq}", text=text)
        reply.chunks.append(chunk)
        self._queued.append(chunk)
        self._owner[chunk.mark] = reply
        return chunk

    def audio_sent(self, chunk: SpokenChunk, nbytes: int, now: float) -> None:
        if chunk.sent_at is None:
            chunk.sent_at = now
            chunk.started_at = max(now, self._play_end)
            self._play_end = chunk.started_at
        chunk.audio_bytes += nbytes
        self._play_end += nbytes / ULAW_BYTES_PER_MS / 1000

    def discard(self, chunk: SpokenChunk) -> None:
        """A chunk that never got audio (synthesis failed or was cancelled) has nothing to wait for."""
        if chunk.audio_bytes == 0 and chunk in self._queued:
            self._queued.remove(chunk)
            self._owner.pop(chunk.mark, None)
            chunk.heard_chars = 0

    def on_mark(self, name: str, now: float) -> bool:
        """A mark came back; returns False for names not queued (already cleared, or not ours)."""
        if name not in self._owner:
            return False
        while self._queued:
            chunk = self._queued.popleft()
            self._owner.pop(chunk.mark, None)
            chunk.played_at = now
            if chunk.mark == name:
                break
        if self._queued:
            nxt = self._queued[0]
            if nxt.sent_at is not None:
                nxt.started_at = max(nxt.sent_at, now)
                self._play_end = nxt.started_at + sum(c.duration_s for c in self._queued)
        else:
            self._play_end = now
        return True

    def interrupt(self, now: float) -> list[SpokenReply]:
        """Barge-in at ``now``: settle what each queued chunk contributed; returns the replies cut short."""
        affected: list[SpokenReply] = []
        playing = True
        while self._queued:
            chunk = self._queued.popleft()
            reply = self._owner.pop(chunk.mark)
            if playing and chunk.started_at is not None and chunk.duration_s > 0:
                fraction = (now - chunk.started_at) / chunk.duration_s
                chunk.heard_chars = _cut(chunk.text, fraction)
            else:
                chunk.heard_chars = 0
            playing = False
            if reply not in affected:
                reply.interrupted_at = now
                affected.append(reply)
        self._play_end = now
        return affected


def _cut(text: str, fraction: float) -> int:
    """Characters of ``text`` heard after ``fraction`` of its audio, ending on a word boundary."""
    if fraction >= 1.0:
        return len(text)
    if fraction <= 0.0:
        return 0
    cut = int(len(text) * fraction)
    if cut < len(text) and text[cut] != " ":
        cut = text.rfind(" ", 0, cut)
    if cut <= 0:
        return 0
    return len(text[:cut].rstrip(" ,;:-"))
