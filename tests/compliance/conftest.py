from __future__ import annotations

import pytest

from compliance.rulebook import RuleBook


@pytest.fixture(scope="session")
def rulebook() -> RuleBook:
    return RuleBook.load()
