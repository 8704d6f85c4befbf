"""Confirming a batch of uploads (all or nothing) and finding the culprit when it is refused."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import TypeVar

from bitimage.client.errors import ApiError, AuthorizationFailed, BitimageError, Conflict, NotFound
from bitimage.client.models import NotifyImage
from bitimage.client.ports import NotifyClient
from bitimage.client.results import Status

T = TypeVar("T")
_UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_IMAGE_ID = re.compile(rf"\b([Ii])mage (?:id )?{_UUID}\b")
_USER_ID = re.compile(rf"\buser {_UUID}\b")


def file_reason(exc: BitimageError) -> str:
    """The server's reason about one file, once, with "the file" for the image id it had.

    The id is the upload's, internal to this run (the image was never confirmed): the reason
    is printed beside the file's path, which is what its reader knows the file by.
    """
    message = exc.message if isinstance(exc, ApiError) else str(exc)
    message = _IMAGE_ID.sub(lambda m: "The file" if m.group(1) == "I" else "the file", message)
    return _USER_ID.sub("your account", message)


FATAL = (AuthorizationFailed,)  # errors that stop the whole upload
Finish = Callable[[T, Status, str | None, uuid.UUID | None], None]


def confirm_batch(
    client: NotifyClient, batch: list[tuple[T, NotifyImage]], finish: Finish[T]
) -> None:
    """Notify a batch, reporting each file through `finish`.

    A refusal carrying the failing image's `image_id` reports that one with the server's reason
    and notifies the rest again. A refusal naming none of the batch (or from a server that
    sends no `image_id`) is narrowed down one image at a time. A 409 means an earlier attempt
    went through (its answer was lost on the way): the images that exist now count as uploaded.
    """
    pending = list(batch)
    while pending:
        try:
            client.notify([notice for _, notice in pending])
        except FATAL:
            raise
        except Conflict as exc:
            done = {notice.id for _, notice in pending if _exists(client, notice.id)}
            if not done:
                _fail_all(pending, finish, file_reason(exc))
                return
            for item, notice in pending:
                if notice.id in done:
                    finish(item, "uploaded", None, notice.id)
            pending = [(item, notice) for item, notice in pending if notice.id not in done]
            continue
        except ApiError as exc:
            refused = [(item, notice) for item, notice in pending if notice.id == exc.image_id]
            if not refused and len(pending) > 1:
                for one in pending:
                    confirm_batch(client, [one], finish)
                return
            _fail_all(refused or pending, finish, file_reason(exc))
            pending = [entry for entry in pending if entry not in refused] if refused else []
            continue
        except BitimageError as exc:
            _fail_all(pending, finish, f"could not confirm: {file_reason(exc)}")
            return
        for item, notice in pending:
            finish(item, "uploaded", None, notice.id)
        return


def _exists(client: NotifyClient, image_id: uuid.UUID) -> bool:
    try:
        client.expanded(image_id)
    except NotFound:
        return False
    return True


def _fail_all(entries: list[tuple[T, NotifyImage]], finish: Finish[T], reason: str) -> None:
    for item, _ in entries:
        finish(item, "failed", reason, None)
