"""Each database's search index: re-indexing an image replaces its text, never doubles it."""

from __future__ import annotations

import uuid

from sqlalchemy import text

from bitimage.analysis.ports import Label
from bitimage.analysis.repository import AnalysisRepository
from bitimage.bootstrap import Container
from bitimage.db.base import utcnow
from bitimage.images.models import Image
from bitimage.search.ports import SearchQuery
from bitimage.users.models import User


def test_reindex_replaces(container: Container) -> None:
    index = container.search_index
    owner, image_id = uuid.uuid4(), uuid.uuid4()
    with container.database.transaction() as session:
        session.add(User(id=owner, image_upload_count=0))
        session.flush()
        session.add(
            Image(
                id=image_id,
                user_id=owner,
                name="cat",
                hash="0" * 32,
                size_bytes=1,
                file_format="jpeg",
                width=1,
                height=1,
                is_private=True,
                storage_key=f"users/{owner}/{image_id}",
                analysis_status="pending",
                created_at=utcnow(),
            )
        )
        session.flush()
        index.index(session, image_id, "cat", ["old"], [])
        AnalysisRepository(session).replace_labels(image_id, "test", "m@1", [Label("animal", 0.9)])
        index.index(session, image_id, "cat", ["new"], ["animal"], "HELLO WORLD\nbit image")
        assert session.execute(text("SELECT count(*) FROM image_search")).scalar_one() == 1
        for tag, found in (("old", []), ("new", [image_id])):
            page = index.search(session, SearchQuery(owner_id=owner, tag=tag))
            assert page.image_ids == found
        for query, found in (
            (SearchQuery(owner_id=owner, label="animal"), [image_id]),
            (SearchQuery(owner_id=owner, label="anmal"), [image_id]),
            (SearchQuery(owner_id=owner, label="animal", min_confidence=0.95), []),
            (SearchQuery(owner_id=owner, text="hello"), [image_id]),
            (SearchQuery(owner_id=owner, text="helo wrld"), [image_id]),
            (SearchQuery(owner_id=owner, text="goodbye"), []),
        ):
            assert index.search(session, query).image_ids == found, query
        index.remove(session, [image_id])
        assert session.execute(text("SELECT count(*) FROM image_search")).scalar_one() == 0
