import pytest

from advisor.advise import Advisor, load_rulebook
from advisor.kb import load_kb


@pytest.fixture(scope="session")
def kb():
    return load_kb()


@pytest.fixture(scope="session")
def advisor(kb):
    return Advisor(kb, load_rulebook())
