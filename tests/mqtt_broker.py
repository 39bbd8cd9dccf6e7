"""Broker fixtures for tests: a real Mosquitto on 127.0.0.1 on a free port, and the embedded broker.

Use in a test module with `from mqtt_broker import mosquitto_broker, embedded_broker`
(pytest puts tests/ on sys.path). Each fixture yields an object with `.host`,
`.port`, and for Mosquitto `.kill()` / `.start()` to crash and restart it on the
same port with its persistence kept. Tests are skipped (with a reason) when the
mosquitto binary is missing; CI installs it.
"""

import pytest

from runtime.core.local_broker import EmbeddedBrokerHandle, MosquittoProcess, free_port, mosquitto_binary


def start_mosquitto(**kw) -> MosquittoProcess:
    if mosquitto_binary() is None:
        pytest.skip("mosquitto is not installed (apt-get install mosquitto)")
    return MosquittoProcess(**kw).start()


@pytest.fixture
def mosquitto_broker():
    b = start_mosquitto()
    try:
        yield b
    finally:
        b.close()


@pytest.fixture
def embedded_broker():
    b = EmbeddedBrokerHandle(free_port()).start()
    try:
        yield b
    finally:
        b.close()
