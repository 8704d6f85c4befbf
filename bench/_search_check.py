"""bench_search.py's equality check: the bulk path leaves the rows the service's own code leaves.

The same photos are written twice: through the service (upload URL, staged bytes,
`UploadService.confirm`, then the rendition step and `AnalysisService.save`, the calls behind
notify and the analyze job) and through `_search_bulk.write_photos` under other ids. Every
column of every table search reads is then compared, ids mapped to placeholders: a column
added to one of these tables is compared without a change here.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import random
import re
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from PIL import Image as Picture
from sqlalchemy import bindparam, select, text
from sqlalchemy.orm import Session

from bitimage.bootstrap import Container
from bitimage.images.models import Image
from bitimage.images.schemas import NotifyImage, TagIn
from bitimage.images.uploads import UploadService
from bitimage.storage.keys import staging_key

try:
    from bench._search_bulk import Ids, write_photos
    from bench._search_data import Photo
except ModuleNotFoundError:  # run as `python bench/bench_search.py`
    from _search_bulk import Ids, write_photos  # type: ignore[import-not-found,no-redef]
    from _search_data import Photo  # type: ignore[import-not-found,no-redef]

# Every table search reads, by database; `:ids` are the images compared.
_READS = {
    "images": "SELECT * FROM images WHERE id IN :ids",
    "image_tags + tags": "SELECT it.*, t.* FROM image_tags it JOIN tags t ON t.id = it.tag_id "
    "WHERE it.image_id IN :ids",
    "image_content_labels + content_labels": "SELECT icl.*, cl.* FROM image_content_labels icl "
    "JOIN content_labels cl ON cl.id = icl.label_id WHERE icl.image_id IN :ids",
}
_SEARCH_READS = {
    "postgresql": {"image_search": "SELECT * FROM image_search WHERE image_id IN :ids"},
    # The FTS5 table's content, through the rows table that maps its rowids to images.
    "sqlite": {
        "image_search_rows + image_search (FTS5)": "SELECT r.*, s.rowid AS fts_rowid, s.* "
        "FROM image_search_rows r JOIN image_search s ON s.rowid = r.rowid "
        "WHERE r.image_id IN :ids"
    },
}
_SURROGATES = {"rowid", "fts_rowid"}  # the FTS5 rowid: an internal key, equal by the join
_UUID = re.compile(r"[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}")


def with_real_bytes(photos: Sequence[Photo], seed: int) -> dict[uuid.UUID, bytes]:
    """Give each photo a small real JPEG (hash, size, format and sides set from it)."""
    rng = random.Random(seed)
    found = {}
    for photo in photos:
        width, height = rng.randrange(40, 97), rng.randrange(30, 73)
        colour = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
        out = io.BytesIO()
        Picture.new("RGB", (width, height), colour).save(out, "JPEG", quality=80)
        data = out.getvalue()
        photo.width, photo.height, photo.size_bytes = width, height, len(data)
        photo.file_format = "jpeg"
        photo.hash = _md5(data)
        found[photo.id] = data
    return found


def _md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def through_service(
    container: Container, photos: Sequence[Photo], jpegs: dict[uuid.UUID, bytes]
) -> dict[uuid.UUID, uuid.UUID]:
    """Each photo uploaded, confirmed and analysed by the service's code: photo id -> image id."""
    moment = [datetime.now(UTC)]
    uploads = UploadService(
        container.settings,
        container.database,
        container.store,
        container.search_index,
        clock=lambda: moment[0],  # the photo's own creation time
    )
    store = container.local_store
    assert store is not None, "the check stages uploads in the local store"
    given = {}
    for photo in photos:
        moment[0] = photo.created_at
        with container.database.transaction() as session:
            (grant,) = uploads.issue_upload_urls(session, photo.user_id, 1)
        store.open_writer(staging_key(photo.user_id, grant.image_id)).commit(jpegs[photo.id])
        tags = [TagIn(name=name) for name in photo.tags]
        item = NotifyImage(
            id=grant.image_id, name=photo.name, hash=photo.hash, is_private=photo.is_private,
            tags=tags,
        )  # fmt: skip
        uploads.confirm(photo.user_id, [item])
        # The analyze job's first step, then the analysis (AnalysisTasks.analyse_image's order).
        assert container.rendition_tasks.render_image(grant.image_id)
        with container.database.transaction() as session:
            assert container.analysis.save(session, grant.image_id, photo.analysis)
        given[photo.id] = grant.image_id
    return given


def check_bulk_path(
    container: Container, photos: Sequence[Photo], jpegs: dict[uuid.UUID, bytes], ids: Ids
) -> int:
    """Write `photos` both ways and compare every row; SystemExit on any difference.

    Returns how many rows were compared.
    """
    given = through_service(container, photos, jpegs)
    database = container.database
    with database.transaction(write=False) as session:
        columns = (Image.id, Image.analysed_at, Image.rendered_at, Image.placeholder)
        stamped = select(*columns).where(Image.id.in_(list(given.values())))
        stamps = {i: (a, r, p) for i, a, r, p in session.execute(stamped).tuples()}
    # The analysis and the rendition step stamp their own clock, and the placeholder is the
    # picture's: the twins take what they wrote.
    twins = []
    for photo in photos:
        analysed, rendered, placeholder = stamps[given[photo.id]]
        assert analysed is not None, "the analysis stamped no time"
        assert rendered is not None, "the rendition step stamped no time"
        assert placeholder is not None, "the rendition step made no placeholder"
        twins.append(
            replace(photo, id=uuid.uuid4(), analysed_at=analysed, rendered_at=rendered,
                    placeholder=placeholder)
        )  # fmt: skip
    with database.transaction() as session:
        write_photos(
            session, container.search_index, twins, ids, container.settings.moderation_threshold
        )
    placeholders: dict[str, str] = {}
    for n, (photo, twin) in enumerate(zip(photos, twins, strict=True)):
        placeholders[given[photo.id].hex] = placeholders[twin.id.hex] = f"<image {n}>"
    placeholders |= {i.hex: f"<tag {name}>" for name, i in ids.tags.items()}
    placeholders |= {i.hex: f"<label {name}>" for name, i in ids.labels.items()}
    compared = 0
    with database.transaction(write=False) as session:
        reads = _READS | _SEARCH_READS[database.dialect]
        for table, sql in reads.items():
            service_rows = _rows(session, sql, list(given.values()), placeholders)
            bulk_rows = _rows(session, sql, [t.id for t in twins], placeholders)
            _compare(table, service_rows, bulk_rows)
            compared += len(service_rows)
    return compared


def _rows(
    session: Session, sql: str, image_ids: list[uuid.UUID], placeholders: dict[str, str]
) -> Counter[tuple[tuple[str, str], ...]]:
    dialect = session.get_bind().dialect.name
    values: list[Any] = image_ids if dialect == "postgresql" else [i.hex for i in image_ids]
    statement = text(sql).bindparams(bindparam("ids", expanding=True))
    result = session.execute(statement, {"ids": values})
    keys = list(result.keys())
    return Counter(
        tuple(
            (key, _normalised(value, placeholders))
            for key, value in zip(keys, row, strict=True)
            if key not in _SURROGATES
        )
        for row in result
    )


def _normalised(value: object, placeholders: dict[str, str]) -> str:
    """A value as comparable text: JSON with sorted keys, ids as placeholders."""
    if isinstance(value, str) and value[:1] in ("{", "["):
        with contextlib.suppress(ValueError):  # text that only looks like JSON
            value = json.loads(value)
    if isinstance(value, dict | list):
        written = json.dumps(value, sort_keys=True)
    elif isinstance(value, datetime):
        written = value.isoformat()
    elif isinstance(value, float):
        written = repr(value)
    else:
        written = str(value)
    return _UUID.sub(lambda m: placeholders.get(m[0].replace("-", ""), m[0]), written)


def _compare(
    table: str,
    service: Counter[tuple[tuple[str, str], ...]],
    bulk: Counter[tuple[tuple[str, str], ...]],
) -> None:
    if not service:
        raise SystemExit(f"equality check: no {table} rows from the service's code path")
    if service == bulk:
        return
    only_service, only_bulk = (
        sorted((service - bulk).elements()),
        sorted((bulk - service).elements()),
    )
    lines = [f"equality check FAILED on {table}: {len(only_service)} rows only from the service,"]
    lines.append(f"{len(only_bulk)} only from the bulk path; first of each:")
    lines += [f"  service: {dict(row)}" for row in only_service[:3]]
    lines += [f"  bulk:    {dict(row)}" for row in only_bulk[:3]]
    raise SystemExit("\n".join(lines))
