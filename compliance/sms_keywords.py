"""What an inbound text means for consent: opt-out, opt-in, help, or nothing.

The heuristic, in order (the first match wins):

1. Keyword message. Lower-cased, punctuation dropped, polite filler words ("please", "now", "it", "thanks",
   "me", ...) removed, the message consists only of keywords of one class: opt-out (STOP, STOPALL, STOP ALL,
   UNSUBSCRIBE, CANCEL, END, QUIT, REVOKE, OPTOUT, OPT OUT), opt-in (START, UNSTOP, YES) or help (HELP, INFO).
   "Stop!!", "STOP please", "unsubscribe me" and "Yes please" match; "ok thanks" (fillers only) does not.
2. A sentence of the message (split at . ! ? ; and line breaks) that is an unambiguous opt-out keyword by the
   same test: STOP, STOPALL, UNSUBSCRIBE, REVOKE, OPT OUT ("Who is this? STOP"). CANCEL, END and QUIT count
   only as a whole message, because a sentence like "Cancel." often means an appointment.
3. Free text a reasonable person means as revocation (47 CFR 64.1200(a)(10)): "stop / quit / cease" followed by
   a contact word ("stop texting me", "stop sending these messages", "quit calling"), unless "stop" is directly
   negated ("don't stop sending listings"); "don't / do not / never + call/text/message/contact + me/us/this
   number" ("don't call me again"); "remove me / my number", "take me off"; "opt (me) out" unless it is "opt out
   of" something that is not our messages ("opt out of the contract"); "unsubscribe" anywhere; "leave me
   alone", "lose / delete my number", "no more texts", "wrong number", "do not call list", "revoke / withdraw
   consent", a few profane dismissals; and, in a message of at most six words, "not interested".

"Stop" inside an ordinary sentence ("I can't stop thinking about that house", "can I stop by at 5?") matches
none of these. Wording restricted to one channel ("stop calling me, text instead") still counts as an opt-out:
the gate errs toward not contacting.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum


class SmsIntent(StrEnum):
    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"
    HELP = "help"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class SmsClassification:
    intent: SmsIntent
    reason: str


_OPT_OUT_KEYWORDS = (
    ("stopall",), ("stop", "all"), ("stop",), ("unsubscribe",), ("cancel",), ("end",), ("quit",),
    ("revoke",), ("optout",), ("opt", "out"),
)  # fmt: skip
_STRONG_OPT_OUT_KEYWORDS = (
    ("stopall",), ("stop", "all"), ("stop",), ("unsubscribe",), ("revoke",), ("optout",), ("opt", "out"),
)  # fmt: skip
_OPT_IN_KEYWORDS = (("start",), ("unstop",), ("yes",))
_HELP_KEYWORDS = (("help",), ("info",))

_FILLERS = frozenset(
    "please pls plz now it thanks thank you thx ty asap immediately already just ok okay me sir maam right away".split()
)

_CONTACT = (
    r"(?:texting|texts?|txting|txts?|messaging|messages?|msging|msgs?|calling|calls?|ringing|contacting|"
    r"contact|sending|emailing|emails?|bothering|harassing|spamming|hitting me up)"
)
_NEGATION = r"(?<!\bdont )(?<!\bnot )(?<!\bnever )(?<!\bcant )(?<!\bcannot )(?<!\bwont )(?<!\bcouldnt )"
_FREE_TEXT = (
    (
        "stop + contact word",
        re.compile(
            _NEGATION + r"\b(?:stop|quit|cease)\s+(?:(?:all|the|these|those|your|this|with|sending|me)\s+){0,3}"
            + _CONTACT + r"\b"
        ),
    ),
    (
        "do not contact me",
        re.compile(
            r"\b(?:dont|do not|never|no longer)\s+(?:ever\s+)?(?:call|text|txt|message|msg|contact|email|ring)\s+"
            r"(?:me|us|this number|my number|here)\b"
        ),
    ),
    ("remove me", re.compile(r"\bremove\s+(?:me|us|my number|this number|my name|my info)\b")),
    ("take me off", re.compile(r"\btake\s+(?:me|us|my number|this number|my name)\s+off\b")),
    (
        "opt out",
        re.compile(
            r"\bopt(?:ing|ed)?\s+(?:me\s+|us\s+)?out\b(?!\s+of\b)"
            r"|\bopt(?:ing|ed)?\s+(?:me\s+|us\s+)?out\s+of\s+(?:\w+\s+){0,2}?"
            r"(?:this|these|that|them|it|all|everything|texts?|messages?|calls?|list|lists|contact|marketing|sms)\b"
        ),
    ),
    ("unsubscribe", re.compile(r"\bunsubscribe\b")),
    ("leave me alone", re.compile(r"\bleave\s+(?:me|us)\s+alone\b")),
    ("lose my number", re.compile(r"\b(?:lose|delete|erase|forget)\s+(?:my|this)\s+number\b")),
    ("no more messages", re.compile(r"\bno\s+more\s+" + _CONTACT + r"\b")),
    ("do not want messages", re.compile(r"\b(?:dont|do not)\s+want\s+(?:any\s*more\s+|these\s+|your\s+|any\s+)?"
                                        r"(?:texts|calls|messages|to be (?:contacted|called|texted))\b")),
    ("wrong number", re.compile(r"\bwrong\s+(?:number|person)\b")),
    ("do not call list", re.compile(r"\b(?:do not call|dnc|donotcall)\s+list\b")),
    ("revoke consent", re.compile(r"\b(?:revoke|withdraw|cancel)\s+(?:my\s+)?(?:consent|permission)\b")),
    ("dismissal", re.compile(r"\b(?:fuck|f|piss|buzz|bugger)\s+off\b|\bgo\s+away\b")),
)  # fmt: skip
_SHORT_FREE_TEXT = (("not interested", re.compile(r"\bnot\s+interested\b")),)
_SHORT_MESSAGE_WORDS = 6

_SENTENCE_SPLIT = re.compile(r"[.!?;\n\r]+")
_NON_WORD = re.compile(r"[^a-z0-9]+")


def classify_sms(text: str) -> SmsIntent:
    """The intent of an inbound text (see the module docstring for the heuristic)."""
    return explain_sms(text).intent


def explain_sms(text: str) -> SmsClassification:
    """``classify_sms`` with the rule that matched, for the consent ledger's evidence."""
    tokens = _tokens(text)
    for intent, keywords in (
        (SmsIntent.OPT_OUT, _OPT_OUT_KEYWORDS),
        (SmsIntent.OPT_IN, _OPT_IN_KEYWORDS),
        (SmsIntent.HELP, _HELP_KEYWORDS),
    ):
        if _only_keywords(tokens, keywords):
            return SmsClassification(intent, f"keyword message: {' '.join(tokens).upper()}")
    for sentence in _SENTENCE_SPLIT.split(text):
        words = _tokens(sentence)
        if _only_keywords(words, _STRONG_OPT_OUT_KEYWORDS):
            return SmsClassification(SmsIntent.OPT_OUT, f"opt-out keyword sentence: {' '.join(words).upper()}")
    flat = " ".join(tokens)
    for name, pattern in _FREE_TEXT:
        if pattern.search(flat):
            return SmsClassification(SmsIntent.OPT_OUT, f"free-text opt-out: {name}")
    if len(tokens) <= _SHORT_MESSAGE_WORDS:
        for name, pattern in _SHORT_FREE_TEXT:
            if pattern.search(flat):
                return SmsClassification(SmsIntent.OPT_OUT, f"short free-text opt-out: {name}")
    return SmsClassification(SmsIntent.OTHER, "no opt-out, opt-in or help wording")


def _tokens(text: str) -> list[str]:
    folded = unicodedata.normalize("NFKC", text).casefold()
    folded = folded.replace("\u2019", "").replace("'", "").replace("`", "")
    return _NON_WORD.sub(" ", folded).split()


def _only_keywords(tokens: list[str], keywords: tuple[tuple[str, ...], ...]) -> bool:
    """True when ``tokens`` minus fillers is a non-empty run of ``keywords`` (longest keyword first)."""
    words = [t for t in tokens if t not in _FILLERS]
    if not words:
        return False
    position = 0
    while position < len(words):
        for keyword in keywords:
            if tuple(words[position : position + len(keyword)]) == keyword:
                position += len(keyword)
                break
        else:
            return False
    return True
