"""Upload grants as single-use tickets: one notify at a time, and no PUT once notify began.

Each check runs in the session its caller opened: notify's batcher (images/uploads.py) claims
and releases in short transactions of their own, the storage PUT route checks in a read.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from bitimage.errors import AccessDenied, Conflict
from bitimage.images.repository import ImageRepository


class GrantClaims:
    """Claims grants for a running notify, releases them if it fails, and guards PUTs."""

    def __init__(self, claim_seconds: float, clock: Callable[[], datetime]) -> None:
        self.claim_lifetime = timedelta(seconds=claim_seconds)
        self.clock = clock

    def claim(
        self, session: Session, user_id: uuid.UUID, image_ids: Sequence[uuid.UUID]
    ) -> datetime:
        """Claim the user's grants of these ids; 409 if one is busy (then roll back).

        The claim's time is its token. Ids without a grant of this user are left to the
        checks that follow (never issued: 404, already confirmed: 409). A claim older than
        the claim lifetime belongs to a notify that died, and is taken over.
        """
        now = self.clock()
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
        self,
        session: Session,
        image_ids: Sequence[uuid.UUID],
        claim: datetime,
        pinned: Sequence[uuid.UUID],
    ) -> None:
        """End a failed notify's claim, so that the ids can be notified again at once."""
        ImageRepository(session).release_grants(image_ids, claim, pinned)

    def check_put(self, session: Session, user_id: uuid.UUID, image_id: uuid.UUID) -> None:
        """Raise unless the upload URL of this image may still be written to (one lookup)."""
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
