"""Qualification facts from what the caller said: intent, area, property type, timeline, budget, financing,
name, email.

Pure functions over recognizer output, which is often lowercase, unpunctuated and full of number words.
Knowing which question the agent just asked (``expecting``) lets a bare answer count: "Austin" after "Which
area?" is an area, "john smith" after "May I have your name?" is a name. :func:`expected_field` infers that
from the agent's last question, so the same extraction serves the scripted dialog and a language model.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any, Literal, get_args

from agent.intents import is_affirmative, is_decline, is_negative, normalize
from agent.interfaces import Qualification
from agent.places import Places
from agent.spoken_numbers import words_to_digits

Field = Literal["intent", "area", "property_type", "timeline", "budget", "financing", "name", "email"]
FIELDS: tuple[Field, ...] = get_args(Field)

_NEGATED = re.compile(
    r"\b(?:not|don'?t|do not|no longer|never|isn'?t|aren'?t|won'?t)\s+(?:\w+\s+){0,2}?"
    r"(?:buy|sell|rent|lease)\w*"
)
_INTENTS: tuple[tuple[Literal["buy", "sell", "rent"], re.Pattern[str]], ...] = (
    ("rent", re.compile(r"\b(?:rent|renting|rental|lease|leasing|tenant)\b")),
    # The local recognizer hears "sell my" as "show my" on phone audio about one time in three; nobody shows their
    # own home to an agent they are calling, so the phrase is read as selling.
    ("sell", re.compile(
        r"\b(?:sell|selling|sold|list(?:ing)? (?:my|our|the)|put (?:my|our) \w+ on the market"
        r"|show(?:ing)? (?:my|our) (?:\w+ )?(?:home|house|condo|place|property|townhouse|apartment))\b"
    )),
    ("buy", re.compile(
        r"\b(?:buy|buying|purchas\w*|home ?buyer|first home|looking for (?:a|an) (?:home|house|place|condo"
        r"|property|townhouse|apartment)|in the market for)\b"
    )),
)  # fmt: skip
_PROPERTY_TYPES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("condo", re.compile(r"\bcondo(?:minium)?s?\b")),
    ("townhouse", re.compile(r"\btown ?(?:house|home)s?\b")),
    ("multi_family", re.compile(r"\b(?:duplex|triplex|fourplex|multi[- ]?family|multi[- ]?unit)\b")),
    ("mobile_home", re.compile(r"\b(?:mobile|manufactured) homes?\b")),
    ("apartment", re.compile(r"\b(?:apartment|flat)s?\b")),
    ("land", re.compile(r"\b(?:land|lot|acreage|acres)\b")),
    ("commercial", re.compile(r"\b(?:commercial|office space|retail space|warehouse)\b")),
    ("house", re.compile(r"\b(?:houses?|single[- ]family|detached|bungalow|ranch|cottage|villa)\b")),
)
_WORD_NUMBER = r"(?:a|an|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|few|couple(?: of)?|several|\d+)"
_PERIOD = r"(?:days?|weeks?|months?|years?)"
_SEASON_OR_PERIOD = r"(?:spring|summer|fall|autumn|winter|week|month|year|quarter|weekend)"
_MONTHS = r"(?:january|february|march|april|may|june|july|august|september|october|november|december)"
_TIMELINES: tuple[tuple[re.Pattern[str], str | None], ...] = (
    (re.compile(r"\b(?:asap|as soon as possible|right away|immediately|right now|urgently)\b"), "asap"),
    (re.compile(rf"\b(?:in|within|over)\s+(?:the\s+)?(?:next\s+)?(?:(?:about|around|roughly|maybe|like)\s+)?"
                rf"(?:a\s+)?{_WORD_NUMBER}(?:\s+(?:or|to)\s+{_WORD_NUMBER})?\s+(?:\w+\s+)?{_PERIOD}\b"), None),
    (re.compile(rf"\b(?:by\s+)?(?:the\s+)?end of (?:the |this |next )?{_SEASON_OR_PERIOD}\b"), None),
    (re.compile(rf"\b(?:early |late |later |sometime )?(?:next|this|coming|the coming)\s+{_SEASON_OR_PERIOD}\b"),
     None),
    (re.compile(rf"\b(?:in|by|around|before|after|until)\s+(?:early |late |mid )?{_MONTHS}\b"), None),
    (re.compile(r"\b(?:in the|this|by|by the)\s+(?:spring|summer|fall|autumn|winter)\b"), None),
    (re.compile(rf"\b{_WORD_NUMBER}\s+(?:to|or)\s+{_WORD_NUMBER}\s+{_PERIOD}\b"), None),
    (re.compile(r"\bjust (?:looking|browsing|starting(?: out)?|curious)\b"), "just browsing"),
    (re.compile(r"\b(?:no rush|no hurry|not sure|flexible|whenever)\b"), "flexible"),
)  # fmt: skip
_Financing = Literal["pre_approved", "cash", "needs_financing", "fha_loan", "va_loan"]
_FINANCING: tuple[tuple[_Financing, re.Pattern[str]], ...] = (
    ("needs_financing", re.compile(
        r"\b(?:not (?:yet |been )?pre[- ]?(?:approved|qualified)|(?:haven'?t|have not|hasn'?t) (?:been |gotten |got )?"
        r"pre[- ]?(?:approved|qualified)|need (?:a |to get )?(?:mortgage|loan|financing|pre[- ]?approv\w*)"
        r"|need financing|working on (?:financing|a mortgage|pre[- ]?approval))"
    )),
    ("pre_approved", re.compile(r"\bpre[- ]?(?:approved|qualified|approval)\b")),
    ("fha_loan", re.compile(r"\b(?:fha|f h a|federal housing)\b")),
    ("va_loan", re.compile(
        r"\b(?:va (?:loan|mortgage|financing)|v a (?:loan|mortgage)|veterans? (?:loan|benefits?))\b"
    )),
    ("cash", re.compile(r"\b(?:cash|all[- ]cash|paying outright|no mortgage)\b")),
)  # fmt: skip
_MONEY = re.compile(
    r"(?P<dollar>\$\s*)?(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)\s*"
    r"(?P<mult>k\b|thousand\b|grand\b|mil\b|million\b|m\b|billion\b)?(?P<unit>\s*(?:dollars|bucks)\b)?"
    r"(?P<after>\s*(?:[a-z%']+))?"
)
_NOT_MONEY_AFTER = re.compile(
    r"\s*(?:days?|weeks?|months?|years?|bed\w*|bath\w*|br|ba|rooms?|pm|am|o'?clock|percent|%|square|sq|feet|ft"
    r"|acres?|kids|children|people|minutes?|hours?|times?|st|nd|rd|th|floors?|stor(?:y|ies)|cars?)$"
)
_MONEY_CONTEXT = re.compile(
    r"\b(?:budget|price|priced|afford|spend|worth|asking|range|list(?:ed)? (?:it )?(?:for|at)|pay|paying|max"
    r"|maximum|up to|under|below|around|about|approximately|between|value|sell (?:it )?for|get for"
    r"|a month|per month|monthly)\b"
)
_MULTIPLIERS = {"k": 1_000, "thousand": 1_000, "grand": 1_000, "mil": 1_000_000, "million": 1_000_000,
                "m": 1_000_000, "billion": 1_000_000_000}  # fmt: skip
_GROUPED = re.compile(r"^\d{1,3}(?:,\d{3})+")
_ROOMS = re.compile(
    r"\b(?P<num>\d+(?:\.5)?|a)(?P<half> and a half)?[- ]"
    r"(?:(?P<bed>bed(?:room)?s?|br|bd)|(?P<bath>bath(?:room)?s?|ba))\b"
)
_MONTHLY = re.compile(r"\b(?:a|per|each|every) month\b|\bmonthly\b|/mo\b")
_SPOKEN_HUNDREDS = re.compile(r"\b([1-9]) ([1-9]\d)\b(?!\.\d)")
_RANGE_JOIN = re.compile(r"^\s*(?:to|and|or|-)\s*$")
_EMAIL = re.compile(r"[a-z0-9][a-z0-9._%+-]*@[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}")
_PLACE_PREPOSITION = re.compile(r"\b(?:in|near|around|outside(?: of)?|close to|by|from|of)\s+(?:the\s+)?")
_PLACE_STOP = frozenset(
    """a an the my our your this that next last coming early late mid area region side part city town county
    and or but so because for with to at by from about around near within over under between into on of
    i i'm we we're you he she they it it's is are was be been am will would could should can may might must
    just really very also too maybe probably soon asap now then there here spring summer fall autumn winter
    week weeks month months year years day days january february march april may june july august
    september october november december monday tuesday wednesday thursday friday saturday sunday
    buying selling renting looking moving getting trying thinking hoping planning interested
    house home condo condos townhouse apartment property place land lot market price range budget mind
    cash mortgage touch time general particular town state country morning afternoon evening
    few couple several one two three four five six seven eight nine ten""".split()
)
_STATES = frozenset(
    """alabama alaska arizona arkansas california colorado connecticut delaware florida georgia hawaii idaho
    illinois indiana iowa kansas kentucky louisiana maine maryland massachusetts michigan minnesota
    mississippi missouri montana nebraska nevada ohio oklahoma oregon pennsylvania tennessee texas utah
    vermont virginia washington wisconsin wyoming""".split()
)
_FILLER = re.compile(
    r"^(?:(?:um+|uh+|er+|so|well|yeah|yes|yep|sure|okay|ok|oh|hi|hello|hey|it's|it is|that's|that is|"
    r"we're|we are|i'm|i am|probably|mostly|somewhere|anywhere|looking|thinking|maybe|definitely|"
    r"my name is|my name's|the name is|name's|this is|call me|i think|in|near|around)[\s,]+)+"
)
_NAME = r"([a-z][a-z'-]+(?:\s+[a-z][a-z'-]+){0,2})"
_NAME_INTRO = re.compile(
    rf"\b(?:my name is|my name's|the name is|name's|call me)\s+{_NAME}"
    rf"|^(?:(?:hi|hello|hey|yes|yeah|oh)[\s,]+)*(?:this is|it's)\s+{_NAME}"
)
_SPELLED = re.compile(r"(?<![a-z'])(?:[a-z](?:\.?\s+|-|\.)){2,}[a-z]\b\.?\s*")
_EMAIL_DOMAIN = re.compile(r"\b(g ?mail|yahoo|hotmail|outlook|icloud|aol|comcast|att)\s+(com|net)\b")
_WEAK_NAME_INTRO = re.compile(rf"\b(?:this is|it's|it is|i'm|i am)\s+{_NAME}")
_NOT_NAME = _PLACE_STOP | frozenset(
    """not calling looking interested just good fine great okay ok sure yes no yeah here wondering curious
    sorry actually still ready free available busy retired married single new glad happy sell buy rent
    selling buying renting a the an um uh well hi hello hey in near""".split()
)


def expected_field(question: str) -> Field | None:
    """Which qualification field the agent's question asks for, if any (the last matching question wins)."""
    q = normalize(question)
    candidates: list[tuple[int, Field]] = []
    for field_name, pattern in _QUESTION_PATTERNS:
        for match in pattern.finditer(q):
            candidates.append((match.start(), field_name))
    return max(candidates)[1] if candidates else None


_QUESTION_PATTERNS: tuple[tuple[Field, re.Pattern[str]], ...] = (
    ("intent", re.compile(r"\bbuy(?:ing)?, sell(?:ing)?,? or rent|\bbuy(?:ing)? or sell(?:ing)?\b")),
    ("area", re.compile(r"\b(?:what|which) (?:area|city|neighbou?rhood|part of town|location)|\bwhere\b")),
    ("property_type", re.compile(r"\b(?:what|which) (?:kind|type) of (?:property|home|place)")),
    ("timeline", re.compile(r"\b(?:timeline|timeframe|time frame|when (?:are|do|would) you)\b")),
    ("budget", re.compile(r"\b(?:budget|price range|price in mind|asking price|how much|price point)\b")),
    ("financing", re.compile(r"\b(?:pre-?approved|financing|mortgage|paying cash)\b")),
    ("name", re.compile(r"\byour (?:full |first )?name\b|\bwho am i speaking\b")),
    ("email", re.compile(r"\be-?mail\b")),
)


def extract(
    text: str, *, expecting: Field | None = None, intent: str | None = None, places: Places | None = None
) -> dict[str, Any]:
    """The qualification facts stated in one caller turn, as field -> value (only what was found).

    An area is kept only when it names a place in ``places`` (default: the US gazetteer), or a zip code.
    """
    t = normalize(text)
    found: dict[str, Any] = {}
    if is_decline(t):
        return found
    found_intent = _intent(t)
    if found_intent:
        found["intent"] = found_intent
    property_type = _property_type(t, expecting=expecting)
    if property_type:
        found["property_type"] = property_type
    timeline, timeline_span = _timeline(t, expecting=expecting)
    if timeline:
        found["timeline"] = timeline
    budget = _budget(t, expecting=expecting, intent=found_intent or intent)
    if budget is not None:
        found["budget"] = budget
    financing = _financing(t, expecting=expecting)
    if financing:
        found["financing"] = financing
    email = _email(t, expecting=expecting)
    if email:
        found["email"] = email
    name = _name(t, expecting=expecting)
    if name:
        found["name"] = name
    found.update(_rooms(t))
    area = _area(t[: timeline_span[0]] + t[timeline_span[1] :], expecting=expecting,
                 places=places or Places.with_service_areas())  # fmt: skip
    if area:
        found["area"] = area
    return found


def apply(qualification: Qualification, found: dict[str, Any]) -> Qualification:
    """A copy of ``qualification`` with ``found`` merged in (newer statements win)."""
    return replace(qualification, **found) if found else replace(qualification)


def update(
    qualification: Qualification, text: str, *, last_question: str | None = None, places: Places | None = None
) -> Qualification:
    """Merge what ``text`` (a caller turn answering ``last_question``) says into a copy of ``qualification``."""
    expecting = expected_field(last_question) if last_question else None
    return apply(qualification, extract(text, expecting=expecting, intent=qualification.intent, places=places))


def is_qualified(qualification: Qualification) -> bool:
    """Enough to hand to an agent: what they want, where, and either how much or when."""
    q = qualification
    return bool(q.intent and q.area and (q.budget is not None or q.timeline))


def missing(qualification: Qualification) -> list[Field]:
    """The fields still unknown, in the order the agent asks for them."""
    values = qualification.as_dict()
    return [f for f in FIELDS if f not in values and not (f == "financing" and qualification.intent != "buy")]


# --- one extractor per field


def _intent(t: str) -> Literal["buy", "sell", "rent"] | None:
    t = _NEGATED.sub(" ", t)
    best: tuple[int, Literal["buy", "sell", "rent"]] | None = None
    for intent, pattern in _INTENTS:
        match = pattern.search(t)
        if match and (best is None or match.start() < best[0]):
            best = (match.start(), intent)
    return best[1] if best else None


def _property_type(t: str, *, expecting: Field | None) -> str | None:
    best: tuple[int, str] | None = None
    for name, pattern in _PROPERTY_TYPES:
        match = pattern.search(t)
        if match and (best is None or match.start() < best[0]):
            best = (match.start(), name)
    if best:
        return best[1]
    if expecting == "property_type" and re.search(r"\bhome\b", t):
        return "house"
    return None


def _timeline(t: str, *, expecting: Field | None) -> tuple[str | None, tuple[int, int]]:
    """The timeline stated, and where it was said (so the area extractor can skip those words)."""
    for pattern, label in _TIMELINES:
        match = pattern.search(t)
        if match:
            if label == "flexible" and expecting != "timeline":
                continue
            return label or match.group(0).strip(), match.span()
    if expecting == "timeline" and (soon := re.search(r"\bsoon\b", t)):
        return "soon", soon.span()
    return None, (0, 0)


def _budget(t: str, *, expecting: Field | None, intent: str | None) -> int | None:
    # "four fifty (thousand)" is said for 450 thousand; words_to_digits reads it as two numbers
    digits = _SPOKEN_HUNDREDS.sub(r"\1\2", words_to_digits(t, group_thousands=True))
    amounts: list[tuple[float, bool, int, int]] = []  # value, has multiplier, start, end
    for m in _MONEY.finditer(digits):
        after = m.group("after") or ""
        if not m.group("mult") and _NOT_MONEY_AFTER.match(after):
            continue
        value = float(m.group("num").replace(",", ""))
        mult = m.group("mult")
        if mult:
            value *= _MULTIPLIERS[mult]
        stated = bool(m.group("dollar") or mult or m.group("unit"))
        # "400,000" and "four hundred thousand" are amounts; "78701" is more likely a zip code
        explicit = stated or bool(_GROUPED.match(m.group("num")))
        if not explicit and not (expecting == "budget" or _MONEY_CONTEXT.search(digits)):
            continue
        if not stated and expecting != "budget" and 1900 <= value <= 2100 and not _MONTHLY.search(digits):
            continue  # a year
        end = m.end("unit") if m.group("unit") else m.end("mult") if mult else m.end("num")
        amounts.append((value, bool(mult), m.start(), end))
    if not amounts:
        return None
    has_multiplier = any(has_mult for _, has_mult, _, _ in amounts)
    # "between 400 and 500k": the first number borrows the second's multiplier
    for i in range(len(amounts) - 1):
        value, has_mult, start, end = amounts[i]
        nxt_value, nxt_mult, nxt_start, _ = amounts[i + 1]
        if not has_mult and nxt_mult and _RANGE_JOIN.match(digits[end:nxt_start]):
            scale = 1_000_000 if nxt_value >= 1_000_000 and value < 100 else 1_000
            amounts[i] = (value * scale, True, start, end)
    best = max(value for value, _, _, _ in amounts)
    scaled_by_listener = not has_multiplier and intent != "rent" and not _MONTHLY.search(digits)
    if scaled_by_listener and best < 20 and best != int(best):
        best *= 1_000_000  # "about 1.5" when the talk is of home prices
    elif scaled_by_listener and 50 <= best < 1_000:
        best *= 1_000  # "around 450" meaning 450 thousand
    if best < 100:
        return None
    return int(round(best))


def _financing(t: str, *, expecting: Field | None) -> str | None:
    for label, pattern in _FINANCING:
        if pattern.search(t):
            return label
    if expecting == "financing":
        if is_affirmative(t):
            return "pre_approved"
        if is_negative(t):
            return "needs_financing"
    return None


def _email(t: str, *, expecting: Field | None) -> str | None:
    match = _EMAIL.search(t)
    if match:
        return match.group(0).rstrip(".")
    if expecting != "email" and not re.search(r"\bat\b.*\bdot\b", t):
        return None
    spoken = _EMAIL_DOMAIN.sub(lambda m: f"{m.group(1).replace(' ', '')} dot {m.group(2)}", t)
    spoken = re.sub(r"\s+at\s+", "@", spoken)
    spoken = re.sub(r"\s+dot\s+", ".", spoken)
    spoken = re.sub(r"\s*\b(?:underscore)\b\s*", "_", spoken)
    spoken = re.sub(r"\s*\b(?:dash|hyphen)\b\s*", "-", spoken)
    # spelled out letters: "j o h n" -> "john"
    spoken = re.sub(r"(?<![\w'])([a-z0-9])\s+(?=[a-z0-9](?![\w']))", r"\1", spoken)
    match = _EMAIL.search(spoken)
    return match.group(0) if match else None


def _name(t: str, *, expecting: Field | None) -> str | None:
    if expecting == "name" or "spelled" in t:
        t = _join_spelled(t)
    match = _NAME_INTRO.search(t) or (_WEAK_NAME_INTRO.search(t) if expecting == "name" else None)
    candidate: str | None = None
    if match:
        candidate = next(g for g in match.groups() if g)
    elif expecting == "name" and not _EMAIL.search(t):
        candidate = _FILLER.sub("", t).strip(" .,!?")
    if not candidate:
        return None
    words = []
    for word in candidate.replace(",", " ").split():
        if word in _NOT_NAME or not re.fullmatch(r"[a-z][a-z'-]*", word):
            break
        words.append(word)
    words = [w for i, w in enumerate(words) if i == 0 or w != words[i - 1]]  # "smith, s m i t h"
    if not words or len(words) > 3:
        return None
    return " ".join(w[:1].upper() + w[1:] for w in words)


def _join_spelled(t: str) -> str:
    """Letters spelled one by one become a word: "s m i t h", "s. m. i. t. h.", "s-m-i-t-h" -> "smith"."""
    t = re.sub(r"\bspelled(?: as)?\b|\bthat'?s\b", ",", t)
    return _SPELLED.sub(lambda m: re.sub(r"[^a-z]", "", m.group(0)) + " ", t)


def _area(t: str, *, expecting: Field | None, places: Places) -> str | None:
    zip_code = re.search(r"\b(?:zip(?: code)?\s*(?:is\s*)?)?(\d{5})\b", t)
    if zip_code and (expecting == "area" or zip_code.group(0).startswith("zip")):
        return zip_code.group(1)
    candidates = [_place_words(t[match.end() :]) for match in _PLACE_PREPOSITION.finditer(t)]
    if expecting == "area":
        candidates.append(_place_words(_FILLER.sub("", t)))
    for candidate in candidates:
        if candidate and places.contains_place(candidate):
            return places.canonical(candidate) or candidate
    return places.find_service_area(t)


def _rooms(t: str) -> dict[str, Any]:
    """Bedrooms and bathrooms: "three bedrooms", "3 bed 2 bath", "two and a half baths"."""
    found: dict[str, Any] = {}
    for m in _ROOMS.finditer(words_to_digits(t)):
        count = 1.0 if m.group("num") == "a" else float(m.group("num"))
        count += 0.5 if m.group("half") else 0
        if m.group("bed") and "bedrooms" not in found and count == int(count) and 0 < count <= 12:
            found["bedrooms"] = int(count)
        elif m.group("bath") and "bathrooms" not in found and 0 < count <= 12:
            found["bathrooms"] = count
    return found


def _place_words(text: str) -> str | None:
    words: list[str] = []
    for raw in text.split():
        word = raw.strip(".,!?;:")
        if words and word in ("county", "parish"):
            words.append(word)
            break
        if not re.fullmatch(r"[a-z][a-z'.-]*", word) or word in _PLACE_STOP:
            break
        words.append(word)
        if raw[-1:] in ",.!?;:" or len(words) == 3:
            break
    if not words:
        return None
    if len(words) > 1 and words[-1] in _STATES:
        return f"{_title(' '.join(words[:-1]))}, {_title(words[-1])}"
    return _title(" ".join(words))


def _title(text: str) -> str:
    return " ".join(w[:1].upper() + w[1:] for w in text.split())
