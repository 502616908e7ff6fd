import os
import tempfile

import pytest

from advisor.advise import Advisor, load_rulebook
from advisor.kb import load_kb

# The KB cache of `advisor explain` goes to a folder of the test run's own, also for the
# subprocesses tests start (they inherit the environment).
os.environ.setdefault("ADVISOR_CACHE_DIR", tempfile.mkdtemp(prefix="advisor-test-cache-"))
# A repo id that is neither in the KB nor cached would be fetched from the Hugging Face Hub: no
# test reaches the real Hub (tests/test_hub.py runs a stand-in one and lifts this for its runs).
os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session")
def kb():
    return load_kb()


@pytest.fixture(scope="session")
def advisor(kb):
    return Advisor(kb, load_rulebook())
