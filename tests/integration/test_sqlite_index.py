"""Re-indexing an image replaces its searchable text; it never doubles it."""

from __future__ import annotations

import uuid

from sqlalchemy import text

from bitimage.bootstrap import Container
from bitimage.search.ports import SearchQuery
from bitimage.users.models import User


def test_reindex_replaces(container: Container) -> None:
    index = container.search_index
    owner, image_id = uuid.uuid4(), uuid.uuid4()
    with container.database.transaction() as session:
        session.add(User(id=owner, image_upload_count=0))
        session.flush()
        session.execute(
            text(
                "INSERT INTO images (id, user_id, name, hash, size_bytes, file_format, width,"
                " height, is_private, storage_key, analysis_status, created_at) VALUES"
                " (:i, :u, 'cat', :h, 1, 'jpeg', 1, 1, 1, 'k', 'pending', '2026-01-01 00:00:00')"
            ),
            {"i": image_id.hex, "u": owner.hex, "h": "0" * 32},
        )
        index.index(session, image_id, "cat", ["old"], [])
        index.index(session, image_id, "cat", ["new"], ["animal"])
        assert session.execute(text("SELECT count(*) FROM image_search")).scalar_one() == 1
        for tag, found in (("old", []), ("new", [image_id])):
            page = index.search(session, SearchQuery(owner_id=owner, tag=tag))
            assert page.image_ids == found
        assert index.search(session, SearchQuery(owner_id=owner, label="animal")).image_ids == [
            image_id
        ]
        index.remove(session, [image_id])
        assert session.execute(text("SELECT count(*) FROM image_search")).scalar_one() == 0
