"""Summaries: ask the index for a page of ids, then load and sign them."""

from __future__ import annotations

from sqlalchemy.orm import Session

from bitimage.errors import InvalidRequest
from bitimage.images.repository import ImageRepository
from bitimage.images.schemas import SummaryPage
from bitimage.images.service import ImageService
from bitimage.search.ports import InvalidCursor, SearchIndex, SearchQuery

MAX_LIMIT = 1000
MAX_TERM = 255


class SearchService:
    """Private and public summaries with filters and cursor paging."""

    def __init__(self, index: SearchIndex, images: ImageService) -> None:
        self.index = index
        self.images = images

    def summaries(self, session: Session, query: SearchQuery) -> SummaryPage:
        """The page of summaries for `query` (owner_id None: everyone's public images)."""
        if not 1 <= query.limit <= MAX_LIMIT:
            raise InvalidRequest(f"limit must be between 1 and {MAX_LIMIT}, got {query.limit}")
        for field in ("name", "tag", "label", "text"):
            value = getattr(query, field)
            if value is not None and len(value) > MAX_TERM:
                raise InvalidRequest(f"{field} is longer than {MAX_TERM} characters")
        if query.min_confidence is not None:
            if not query.label:
                raise InvalidRequest("min_confidence needs content_label")
            if not 0.0 <= query.min_confidence <= 1.0:
                raise InvalidRequest(
                    f"min_confidence must be between 0 and 1, got {query.min_confidence}"
                )
        if query.hash is not None and not _is_md5(query.hash):
            raise InvalidRequest("hash must be 32 hexadecimal characters (an MD5)")
        try:
            page = self.index.search(session, query)
        except InvalidCursor as exc:
            raise InvalidRequest(
                f"cursor is invalid: {exc}", "Start again without a cursor"
            ) from None
        found = ImageRepository(session).listed(page.image_ids)
        ordered = [found[i] for i in page.image_ids if i in found]
        return SummaryPage(
            images=self.images.summaries(ordered, query.owner_id), next_cursor=page.next_cursor
        )


def _is_md5(value: str) -> bool:
    return len(value) == 32 and all(ch in "0123456789abcdefABCDEF" for ch in value)
