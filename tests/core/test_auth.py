"""core.auth.UserBackend: the session's user in one query, logins as before, and sessions that
name Django's ModelBackend (made before it) still valid."""

import pytest
from django.contrib.auth import BACKEND_SESSION_KEY, authenticate
from django.contrib.auth.backends import ModelBackend
from django.urls import reverse

from tests.factories import ProjectFactory, annotator

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice():
    user = annotator("alice", ProjectFactory(slug="auth"))
    user.set_password("right-pw")
    user.save()
    return user


def test_a_login_records_the_one_query_backend_and_its_session_works(client, alice):
    response = client.post(reverse("login"), {"username": "alice", "password": "right-pw"})
    assert response.status_code == 302
    assert client.session[BACKEND_SESSION_KEY] == "core.auth.UserBackend"
    me = client.get(reverse("api:me"))
    assert me.status_code == 200 and me.json()["username"] == "alice"


def test_a_session_of_djangos_model_backend_stays_valid(client, alice):
    client.force_login(alice, backend="django.contrib.auth.backends.ModelBackend")
    assert client.get(reverse("api:me")).json()["username"] == "alice"


def test_a_wrong_password_is_checked_once(alice, monkeypatch):
    calls = []
    real = ModelBackend.authenticate

    def counted(self, *args, **kwargs):
        calls.append(type(self).__name__)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(ModelBackend, "authenticate", counted)
    assert authenticate(username="alice", password="wrong") is None
    assert calls == ["UserBackend"]
    assert authenticate(username="alice", password="right-pw") == alice


def test_an_inactive_user_has_no_session_user(client, alice):
    client.force_login(alice)
    alice.is_active = False
    alice.save()
    assert client.get(reverse("api:me")).status_code in (401, 403)
