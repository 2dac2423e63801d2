import pytest

from tests.webhooks.receiver import Receiver


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()
