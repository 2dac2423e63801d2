"""The session's user in one plain query.

Every page and API request with a session looks its user up. Django's ``ModelBackend`` does it
through the ORM, whose query compilation was about a sixth of a ranking request's CPU
(bench/profile_requests.py --profile); this backend reads the same row with ``core.db.model_get``.

Sessions record the backend that logged them in. Those made before this backend existed
name Django's ``ModelBackend``, which therefore stays listed second in
``AUTHENTICATION_BACKENDS`` so that they stay valid. A login goes through this backend first;
when it refuses (a wrong password), it stops Django from asking the second one, which would
only check the same password again.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import PermissionDenied

from core.db import model_get


class UserBackend(ModelBackend):
    def authenticate(self, request, username=None, password=None, **kwargs):
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is None and (username is not None or kwargs):
            # The legacy ModelBackend entry would repeat this very check (and its password
            # hashing): end the attempt here, as a refusal.
            raise PermissionDenied
        return user

    def get_user(self, user_id):
        model = get_user_model()
        user = model_get(model, f"t.{model._meta.pk.column} = %s", [user_id])
        return user if user is not None and self.user_can_authenticate(user) else None
