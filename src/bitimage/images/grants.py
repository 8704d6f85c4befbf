"""Upload grants as single-use tickets: one notify at a time, and no PUT once notify began."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from bitimage.db.session import Database
from bitimage.errors import AccessDenied, Conflict
from bitimage.images.repository import ImageRepository

log = logging.getLogger(__name__)


class GrantClaims:
    """Claims grants for a running notify, releases them if it fails, and guards PUTs."""

    def __init__(
        self, database: Database, claim_seconds: float, clock: Callable[[], datetime]
    ) -> None:
        self.database = database
        self.claim_lifetime = timedelta(seconds=claim_seconds)
        self.clock = clock

    def claim(self, user_id: uuid.UUID, image_ids: Sequence[uuid.UUID]) -> datetime:
        """Claim the user's grants of these ids in one short transaction; 409 if one is busy.

        The claim's time is its token. Ids without a grant of this user are left to the
        checks that follow (never issued: 404, already confirmed: 409). A claim older than
        the claim lifetime belongs to a notify that died, and is taken over.
        """
        now = self.clock()
        with self.database.transaction() as session:
            repo = ImageRepository(session)
            claimed = repo.claim_grants(user_id, image_ids, now, now - self.claim_lifetime)
            missing = [image_id for image_id in image_ids if image_id not in claimed]
            busy = repo.grants_of(user_id, missing) if missing else set()
            if busy:  # raising rolls the other claims back: the batch is all or nothing
                first = next(image_id for image_id in image_ids if image_id in busy)
                raise Conflict(
                    f"Image {first} is being confirmed by another request",
                    "Wait for that request's answer; notify again only if it failed",
                    image_id=first,
                )
        return now

    def release(
        self, image_ids: Sequence[uuid.UUID], claim: datetime, pinned: Sequence[uuid.UUID]
    ) -> None:
        """End a failed notify's claim, so that the ids can be notified again at once."""
        try:
            with self.database.transaction() as session:
                ImageRepository(session).release_grants(image_ids, claim, pinned)
        except Exception:
            # The claim then lapses after the claim lifetime; the notify's own error stands.
            log.exception("releasing the claim on %s failed", [str(i) for i in image_ids])

    def check_put(self, user_id: uuid.UUID, image_id: uuid.UUID) -> None:
        """Raise unless the upload URL of this image may still be written to (one lookup)."""
        with self.database.transaction(write=False) as session:
            repo = ImageRepository(session)
            state = repo.put_state(image_id)
            if state is not None and state[0] == user_id:
                if state[1]:
                    return
                raise Conflict(
                    f"Image {image_id} was notified: its upload URL takes no more uploads",
                    "Ask for a new upload URL to upload other bytes",
                    image_id=image_id,
                )
            if repo.owners([image_id]).get(image_id) == user_id:
                raise Conflict(
                    f"Image {image_id} is already confirmed: its upload URL is used up",
                    "Ask for a new upload URL to upload other bytes",
                    image_id=image_id,
                )
        raise AccessDenied(
            f"The upload URL of image {image_id} is no longer valid",
            "Ask the API for a fresh URL (the grant expired, or its account was deleted)",
            image_id=image_id,
        )
