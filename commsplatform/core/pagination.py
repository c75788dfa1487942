"""The API's pagination: DRF's limit/offset with bounds, so that no page size or offset reaches the database
beyond what it can hold (SQLite fails on integers past 64 bits; a huge limit would read a whole table)."""

from rest_framework import pagination
from rest_framework.request import Request

from commsplatform.core.errors import ValidationFailed

MAX_OFFSET = 1_000_000_000


class LimitOffsetPagination(pagination.LimitOffsetPagination):
    max_limit = 1000

    def get_offset(self, request: Request) -> int:
        offset = super().get_offset(request)
        if offset > MAX_OFFSET:
            raise ValidationFailed(f"offset must be at most {MAX_OFFSET}.", fields={"offset": "too large"})
        return offset
