"""What a caller's words ask for, beyond qualification facts: a human, an opt-out, goodbye, yes or no.

Pure functions over recognizer output (lowercase, little punctuation). The session uses
:func:`is_opt_out_request` on every turn whatever dialog is in use, because a revocation of consent must be
honoured however it is worded and must not depend on a language model noticing it.
"""

from __future__ import annotations

import re

_OPT_OUT = re.compile(
    r"\b(?:"
    r"stop calling|quit calling|stop (?:texting|contacting|bothering)|don'?t (?:ever )?call|do not call"
    r"|never call|no more calls|take (?:me|my (?:number|name)) off|remove (?:me|my (?:number|name))"
    r"|put me on (?:your|the) do not call|unsubscribe|opt(?:ing)? (?:me )?out|revoke"
    r"|lose my (?:number|name)|delete my (?:number|information|info)"
    r")\b"
)
_OPT_OUT_MORE = re.compile(
    r"\b(?:"
    r"(?:don'?t|do not) want (?:any )?(?:more |these |your )?(?:calls|to be called|you (?:to )?call(?:ing)?)"
    r"|(?:take|remove|delete|scratch|cross) (?:me|my (?:number|name|info\w*)) (?:off|out|from)"
    r"|(?:removed|taken off|deleted) (?:from|off) (?:your|the|this) (?:\w+ )?list"
    r"|add me to (?:your|the) do not call"
    r"|stop (?:the |these |your )?(?:calls|calling)"
    r")\b"
)
# Words that make a "don't call" about when, not whether: asked once to confirm rather than honoured blindly.
_CALL_LATER = re.compile(
    r"\b(?:until|till|before|after|at work|today|tonight|tomorrow|this (?:morning|afternoon|evening|week)"
    r"|right now|on (?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)|back|during|while|so early|so late)\b"
)
# What a recognizer leaves of an opt-out: a cue worth a confirming question, never an opt-out by itself.
_MAYBE_OPT_OUT = re.compile(
    r"\b(?:"
    r"(?:off|from) (?:your|the|this|that) (?:\w+ )?list|do not call|don'?t call|no more (?:call|calls|calling)"
    r"|remove (?:me|my|us|our)|removed (?:me|us|from|off)|take (?:me|us) off|unsubscrib\w*|opt(?:ed|ing)? out"
    r"|stop (?:\w+ )?calling"
    r"|never call|quit calling|stop (?:call|calls)"
    r")\b"
)
_NOT_OPT_OUT = re.compile(r"\b(?:don'?t|do not|never) (?:stop|quit|remove|unsubscribe)\b")
_BARE_STOP = re.compile(r"^\W*(?:please\s+)?(?:stop|quit|end|cancel|unsubscribe|opt out)(?:\s+please)?\W*$")
_STOP_WORD = re.compile(r"\b(?:stop|quit|unsubscribe|opt out|cancel)\b")
_HUMAN = re.compile(
    r"\b(?:"
    r"(?:speak|talk|chat)(?:ing)? (?:to|with) (?:a |an |the |your |some )?(?:real |live |actual )?"
    r"(?:person|human|agent|realtor|representative|rep|someone|somebody|operator|broker|manager)"
    r"|(?:real|live|actual) (?:person|human|agent)|transfer me|connect me|put me through"
    r"|human being|representative|operator"
    r")\b"
)
_GOODBYE = re.compile(
    r"\b(?:bye|goodbye|good bye|that'?s all|that is all|that'?s it|have a (?:good|great|nice) (?:day|one|night)"
    r"|talk (?:to you )?later|i have to go|i gotta go|gotta go|hang(?:ing)? up)\b"
)
_NOT_INTERESTED = re.compile(
    r"\b(?:not interested|no longer interested|wrong number|don'?t need|do not need|not looking"
    r"|already (?:sold|bought|found|have an agent|working with)|no thanks|no thank you|leave me alone)\b"
)
_AFFIRMATIVE = re.compile(
    r"^\W*(?:yes|yeah|yep|yup|sure|ok|okay|correct|right|absolutely|definitely|of course|please|sounds good"
    r"|that works|that would be great|that'?d be great|go ahead|let'?s do (?:it|that))\b"
)
_NEGATIVE = re.compile(
    r"^\W*(?:no|nope|nah|not (?:really|yet|now|right now)|i'?m good|i'?m fine|no thanks|nothing|none)\b"
)
_DECLINE = re.compile(
    r"\b(?:rather not|prefer not|don'?t want to (?:say|give|share)|not comfortable|skip (?:it|that)"
    r"|pass on that|none of your business|i'?d rather not|not going to (?:say|give))\b"
)
_BACKCHANNEL = re.compile(r"^\W*(?:uh[- ]?huh|mm[- ]?hmm|mhm|hmm|yeah|yes|yep|ok|okay|right|sure|got it|i see|oh)\W*$")


def normalize(text: str) -> str:
    """Lowercase, straight apostrophes, single spaces: the form the patterns here expect."""
    text = text.lower().replace("’", "'").replace("‘", "'")
    return re.sub(r"\s+", " ", text).strip()


def is_opt_out_request(text: str, *, bare_stop_counts: bool = False) -> bool:
    """The caller revokes consent ("stop calling me", "take me off your list", "do not call").

    ``bare_stop_counts``: in a call that offered "say stop to be removed", the word stop (or quit, cancel,
    unsubscribe) anywhere in a short reply counts too.
    """
    t = _NOT_OPT_OUT.sub(" ", normalize(text))  # "don't stop calling me" asks for the opposite
    if _BARE_STOP.match(t):
        return True
    match = _OPT_OUT.search(t) or _OPT_OUT_MORE.search(t)
    if match and not _CALL_LATER.search(t, match.end()):
        return True
    return bare_stop_counts and len(t.split()) <= 6 and bool(_STOP_WORD.search(t))


def is_possible_opt_out(text: str) -> bool:
    """The words may revoke consent but are not clear enough to act on unasked ("don't call me at work",
    "remove my..." cut off, "no more calls" half heard): the agent asks once to confirm."""
    t = normalize(text)
    return not is_opt_out_request(t) and bool(_MAYBE_OPT_OUT.search(_NOT_OPT_OUT.sub(" ", t)))


def wants_human(text: str) -> bool:
    """The caller asks for a person ("can I talk to a real agent", "transfer me")."""
    return bool(_HUMAN.search(normalize(text)))


def is_goodbye(text: str) -> bool:
    return bool(_GOODBYE.search(normalize(text)))


def is_not_interested(text: str) -> bool:
    return bool(_NOT_INTERESTED.search(normalize(text)))


def is_affirmative(text: str) -> bool:
    return bool(_AFFIRMATIVE.match(normalize(text)))


def is_negative(text: str) -> bool:
    return bool(_NEGATIVE.match(normalize(text)))


def is_decline(text: str) -> bool:
    """The caller will not answer this question ("I'd rather not say")."""
    return bool(_DECLINE.search(normalize(text)))


def is_backchannel(text: str) -> bool:
    """Listener noises that are not a turn of their own ("uh-huh", "mm-hmm", "okay")."""
    return bool(_BACKCHANNEL.match(normalize(text)))
