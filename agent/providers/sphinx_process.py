"""One pocketsphinx decoder in its own process, driven over a pipe.

pocketsphinx holds the GIL while it decodes (about 25 ms per 200 ms of audio, and a few hundred ms for the
final pass), so a decoder in a thread would still stall the event loop and every other call with it. Each
decoder therefore lives in a child process. It is a fresh interpreter (``python -m`` this module): forking a
threaded server is unsafe, and ``multiprocessing``'s spawn would re-import the parent's ``__main__``. The
parent sends the decoder options first, then talks to it in request/response pairs over a socket pair:

* ``("begin",)`` starts an utterance (ending any the previous user left open) -> ``None``
* ``("audio", pcm16_8khz)`` decodes more audio -> the partial hypothesis
* ``("end",)`` ends the utterance -> the final hypothesis
* ``("close",)`` stops the process

Audio arrives at the telephone rate (8 kHz) and is upsampled to the 16 kHz the shipped English model
expects inside the child, keeping ``audioop.ratecv`` state across the chunks of an utterance.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from multiprocessing.connection import Connection
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from agent.audio import audioop
from agent.interfaces import SAMPLE_RATE, ProviderError

if TYPE_CHECKING:
    from agent.providers.resample import RateCVState  # numpy stays out of the decoder process

logger = logging.getLogger(__name__)

MODEL_SAMPLE_RATE = 16000
"""The rate the acoustic model shipped in the pocketsphinx package was trained on."""

DEFAULT_DECODER_OPTIONS: Mapping[str, Any] = MappingProxyType(
    {
        # The flat-lexicon second pass costs ~250 ms at the end of every utterance, on the turn's critical
        # path, for no measurable gain on phone-band speech; the tree pass plus best-path search stays.
        "fwdflat": False,
        "loglevel": "ERROR",
    }
)

Request = tuple[str] | tuple[str, bytes]

_IMPORT_ROOT = Path(__file__).resolve().parents[2]
"""The directory holding the ``agent`` package, put on the child's path."""


def main(argv: Sequence[str]) -> None:
    """Entry point of the child process: ``python -m agent.providers.sphinx_process <socket fd>``."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when this process ends
    with Connection(int(argv[1])) as conn:
        try:
            options = conn.recv()
        except (EOFError, OSError):
            return
        serve(conn, options)


def serve(conn: Connection, options: Mapping[str, Any]) -> None:
    """Load the model once, then answer requests until closed."""
    from pocketsphinx import Decoder

    try:
        decoder = Decoder(**options)
    except (RuntimeError, ValueError) as exc:
        conn.send(("error", f"could not load the pocketsphinx model: {exc}"))
        return
    conn.send(("ok", None))
    utterance = _Utterance(decoder)
    while True:
        try:
            request = conn.recv()
        except (EOFError, OSError):
            return
        if request[0] == "close":
            return
        try:
            conn.send(("ok", utterance.handle(request)))
        except (RuntimeError, ValueError) as exc:
            conn.send(("error", f"{type(exc).__name__}: {exc}"))


class _Utterance:
    def __init__(self, decoder: Any) -> None:
        self._decoder = decoder
        self._active = False
        self._ratecv_state: RateCVState = None

    def handle(self, request: Request) -> str | None:
        if request[0] == "begin":
            if self._active:
                self._decoder.end_utt()
            self._decoder.start_utt()
            self._active, self._ratecv_state = True, None
            return None
        if request[0] == "audio" and len(request) == 2:
            if not self._active:
                raise RuntimeError("audio outside an utterance")
            pcm, self._ratecv_state = audioop.ratecv(
                request[1], 2, 1, SAMPLE_RATE, MODEL_SAMPLE_RATE, self._ratecv_state
            )
            self._decoder.process_raw(pcm, False, False)
            return self._hypothesis()
        if request[0] == "end":
            if not self._active:
                return ""
            self._decoder.end_utt()
            self._active = False
            return self._hypothesis()
        raise ValueError(f"unknown request {request[0]!r}")

    def _hypothesis(self) -> str:
        hyp = self._decoder.hyp()
        return hyp.hypstr if hyp is not None else ""


class DecoderProcess:
    """The parent's handle on one decoder process. Its methods block: call them from a worker thread."""

    def __init__(self, process: subprocess.Popen[bytes], conn: Connection) -> None:
        self._process = process
        self._conn = conn
        self._lock = threading.Lock()
        self.broken = False

    @classmethod
    def spawn(cls, *, options: Mapping[str, Any], ready_timeout: float) -> DecoderProcess:
        """Start a process and wait until its model is loaded."""
        parent_end, child_end = socket.socketpair()
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(_IMPORT_ROOT), env.get("PYTHONPATH")]))
        with child_end:
            try:
                process = subprocess.Popen(
                    [sys.executable, "-m", __name__, str(child_end.fileno())],
                    pass_fds=(child_end.fileno(),),
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    env=env,
                )
            except OSError as exc:
                parent_end.close()
                raise ProviderError(f"could not start a pocketsphinx decoder process: {exc}") from exc
        handle = cls(process, Connection(parent_end.detach()))
        try:
            handle._conn.send(dict(options))
        except OSError as exc:
            handle.kill()
            raise ProviderError("pocketsphinx decoder process is gone") from exc
        handle._receive(ready_timeout)
        return handle

    def call(self, request: Request, *, timeout: float) -> str | None:
        """Send one request and wait for its answer; a process that fails is marked broken and killed."""
        with self._lock:  # a request and its answer must not interleave with another caller's
            if self.broken:
                raise ProviderError("pocketsphinx decoder process is gone")
            try:
                self._conn.send(request)
            except OSError as exc:
                self.kill()
                raise ProviderError("pocketsphinx decoder process is gone") from exc
            return self._receive(timeout)

    def _receive(self, timeout: float) -> str | None:
        try:
            reply = self._conn.recv() if self._conn.poll(timeout) else None
        except (OSError, EOFError) as exc:
            self.kill()
            raise ProviderError("pocketsphinx decoder process is gone") from exc
        if reply is None:
            self.kill()  # a stuck decoder would hold its lease forever
            raise ProviderError(f"pocketsphinx decoder did not answer within {timeout:.1f} s")
        status, value = reply
        if status != "ok" or not (value is None or isinstance(value, str)):
            self.kill()  # the decoder's state is unknown after an error: do not reuse it
            raise ProviderError(f"pocketsphinx decoder failed: {value}")
        return value

    def close(self, *, timeout: float = 2.0) -> None:
        """Ask the process to stop; kill it if it does not within ``timeout``."""
        if not self.broken:
            try:
                self._conn.send(("close",))
            except OSError:
                pass
        try:
            self._process.wait(timeout)
        except subprocess.TimeoutExpired:
            logger.warning("pocketsphinx decoder process %d did not stop; killing it", self._process.pid)
        self.kill()

    def kill(self) -> None:
        self.broken = True
        if self._process.poll() is None:
            self._process.kill()
            self._process.wait()
        self._conn.close()


if __name__ == "__main__":
    main(sys.argv)
