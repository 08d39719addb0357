"""Put a child process of the test suite on the test clock (tests/clock_support.py)."""

import os

if os.environ.get("FIELDOPS_TEST_NOW"):
    from tests.clock_support import SteadyClock, install, test_now

    install(SteadyClock(test_now()))
