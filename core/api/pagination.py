"""Cursor pagination for every list of the API."""

from __future__ import annotations

import re
from base64 import b64decode
from urllib.parse import parse_qs

from rest_framework import exceptions
from rest_framework.pagination import CursorPagination

_BIGINT = re.compile(r"-?[0-9]{1,19}")


class CursorPage(CursorPagination):
    """Stable pages over big, growing lists: a page never repeats or skips rows on insert.

    Every list orders by id, so a cursor's position must be an id: DRF would put any text a
    client crafts into ``id < %s`` (a 500 on a non-number, on PostgreSQL on one past bigint).
    """

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500
    ordering = "-id"

    def decode_cursor(self, request):
        cursor = super().decode_cursor(request)  # NotFound for what it cannot decode
        if cursor is None:
            return None
        encoded = request.query_params[self.cursor_query_param]
        tokens = parse_qs(b64decode(encoded.encode("ascii")).decode("ascii"))
        # DRF caps an offset past its cutoff silently; no cursor it wrote has one.
        offset_ok = tokens.get("o", ["0"])[0].isdigit() and cursor.offset < self.offset_cutoff
        position = cursor.position
        position_ok = position is None or (
            _BIGINT.fullmatch(position) is not None and abs(int(position)) < 2**63
        )
        if not (offset_ok and position_ok):
            raise exceptions.NotFound(self.invalid_cursor_message)
        return cursor


class OldestFirstCursorPage(CursorPage):
    ordering = "id"
