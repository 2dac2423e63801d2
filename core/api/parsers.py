"""The API's JSON parser."""

from __future__ import annotations

from django.conf import settings
from rest_framework import exceptions
from rest_framework.parsers import JSONParser

from core.api.errors import ApiError
from core.json_input import JsonInputError, json_loads_checked


class CheckedJSONParser(JSONParser):
    """DRF's JSON parser behind the one gate every JSON body passes (``core.json_input``):
    a 400 naming where the body holds what no field may store, instead of a 500 later."""

    def parse(self, stream, media_type=None, parser_context=None):
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            return json_loads_checked(stream.read().decode(encoding))
        except UnicodeDecodeError as exc:
            raise exceptions.ParseError(f"JSON parse error - {exc}") from exc
        except JsonInputError as exc:
            raise ApiError("parse_error", f"JSON parse error - {exc}",
                           fields={exc.path: exc.message}) from exc  # fmt: skip
