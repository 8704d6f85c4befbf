"""`Client`: every route of docs/API.md over httpx, typed answers, typed errors, retries."""

from __future__ import annotations

import contextlib
import os
import sys
import uuid
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import IO, Literal

from bitimage.client.base import BaseClient
from bitimage.client.errors import ApiError, Conflict, NotFound
from bitimage.client.models import (
    Account,
    AccountCreated,
    Authorization,
    CallerAccount,
    ConfirmedImages,
    DuplicateGroup,
    DuplicatePage,
    ExpandedImage,
    HashLookup,
    ImageSummary,
    Jwks,
    LoginAnswer,
    NotifyImage,
    SignupAnswer,
    SimilarImages,
    SummaryPage,
    UploadUrl,
    UploadUrls,
)
from bitimage.client.results import ProgressCallback, Source, UploadReport
from bitimage.client.retry import NO_RETRY
from bitimage.client.selection import Ignored, select_files
from bitimage.client.uploads import BatchUploader

URLS_PER_REQUEST = 1000  # the API's most upload URLs (and ids per delete) per request
PAGE_MAX = 1000


class Client(BaseClient):
    """A Bit-image API client; thread-safe (one connection pool), use it as a context manager."""

    # -- CAS --------------------------------------------------------------------------------

    def signup(self, email: str, password: str) -> SignupAnswer:
        """Create a CAS account (409 Conflict if the email is taken)."""
        body = {"email": email, "password": password}
        answer = self.request(
            "POST", f"{self.cas_url}/signup", expect=201, auth=False, json=body, retry=NO_RETRY
        )
        return self._parse(SignupAnswer, answer)

    def login(self, email: str, password: str) -> str:
        """Log in to the CAS; the token is returned and kept for the next calls."""
        body = {"email": email, "password": password}
        answer = self.request(
            "POST", f"{self.cas_url}/loginSubmit", expect=202, auth=False, json=body, retry=NO_RETRY
        )
        self.token = self._parse(LoginAnswer, answer).token
        return self.token

    def authorize(self, token: str | None = None) -> Authorization:
        """Ask the CAS whether a token (default: ours) is valid (the CAS's remote check)."""
        body = {"token": token or self.token or ""}
        answer = self.request(
            "POST", f"{self.cas_url}/authorizeUser", expect=200, auth=False, json=body
        )
        return self._parse(Authorization, answer)

    def jwks(self) -> Jwks:
        """The CAS public keys."""
        answer = self.request(
            "GET", f"{self.cas_url}/.well-known/jwks.json", expect=200, auth=False
        )
        return self._parse(Jwks, answer)

    # -- account ----------------------------------------------------------------------------

    def create_account(self) -> AccountCreated:
        """Create the Bit-image account of the token's user (409 Conflict if it exists)."""
        return self._parse(AccountCreated, self.request("POST", "/api/v1/users", expect=201))

    def ensure_account(self) -> bool:
        """Create the account unless it exists; True when it was created now."""
        try:
            self.create_account()
        except Conflict:
            return False
        return True

    def account(self, user_id: uuid.UUID | None = None) -> Account:
        """The caller's account with its image count and limit."""
        user = user_id or self.claims().user_id
        return self._parse(Account, self.request("GET", f"/api/v1/users/{user}", expect=200))

    def me(self) -> CallerAccount:
        """The token's user's account (GET /users/me), with the token's email."""
        return self._parse(CallerAccount, self.request("GET", "/api/v1/users/me", expect=200))

    def delete_account(self, user_id: uuid.UUID | None = None) -> None:
        """Delete the caller's account, every image and every stored byte."""
        user = user_id or self.claims().user_id
        self.request("DELETE", f"/api/v1/users/{user}", expect=204)

    # -- images -----------------------------------------------------------------------------

    def upload_urls(self, count: int) -> list[UploadUrl]:
        """`count` (1 to 1000) fresh image ids, each with a pre-signed PUT URL."""
        answer = self.request(
            "GET", "/api/v1/images/upload_urls", expect=200, params={"image_count": count}
        )
        return self._parse(UploadUrls, answer).image_upload_urls

    def notify(self, images: Sequence[NotifyImage]) -> list[ImageSummary]:
        """Confirm up to 5 uploaded images, all or nothing; their summaries."""
        body = {"images": [image.model_dump(mode="json") for image in images]}
        answer = self.request("POST", "/api/v1/images", expect=201, json=body)
        return self._parse(ConfirmedImages, answer).images

    def summary(
        self,
        *,
        name: str | None = None,
        tag: str | None = None,
        label: str | None = None,
        text: str | None = None,
        min_confidence: float | None = None,
        hash: str | None = None,
        public: bool = False,
        limit: int = 100,
        cursor: str | None = None,
    ) -> SummaryPage:
        """One page of your images (or everyone's public ones); filters narrow (AND)."""
        params = {
            "name": name, "tag": tag, "content_label": label, "text": text, "hash": hash,
            "min_confidence": None if min_confidence is None else str(min_confidence),
        }  # fmt: skip
        query = {k: v for k, v in params.items() if v is not None}
        query["limit"] = str(limit)
        if cursor:
            query["cursor"] = cursor
        kind = "public" if public else "private"
        answer = self.request(
            "GET", f"/api/v1/images/{kind}/summary", expect=200, params=query, auth=not public
        )
        return self._parse(SummaryPage, answer)

    def search(
        self,
        *,
        name: str | None = None,
        tag: str | None = None,
        label: str | None = None,
        text: str | None = None,
        min_confidence: float | None = None,
        public: bool = False,
        limit: int = 100,
        page_size: int = PAGE_MAX,
    ) -> Iterator[ImageSummary]:
        """Your images (or everyone's public ones) matching the filters, following cursors."""
        cursor, left = None, limit
        while left > 0:
            page = self.summary(
                name=name, tag=tag, label=label, text=text, min_confidence=min_confidence,
                public=public, limit=min(left, page_size, PAGE_MAX), cursor=cursor,
            )  # fmt: skip
            yield from page.images[:left]
            left -= len(page.images)
            cursor = page.next_cursor
            if not cursor or not page.images:
                return

    def find_by_hash(self, md5: str) -> ImageSummary | None:
        """One of your images with exactly these bytes (hex MD5), or None."""
        found = self.summary(hash=md5.lower(), limit=1).images
        return found[0] if found else None

    def held_hashes(self, concurrency: int = 8) -> dict[str, uuid.UUID]:
        """MD5 -> id of every image you hold: a walk of your summaries, one expanded per image."""
        ids = [image.id for image in self.search(limit=sys.maxsize)]

        def md5_of(image_id: uuid.UUID) -> tuple[str, uuid.UUID] | None:
            try:
                return self.expanded(image_id).hash, image_id
            except NotFound:  # deleted meanwhile
                return None

        with ThreadPoolExecutor(max(1, concurrency)) as pool:
            return dict(found for found in pool.map(md5_of, ids) if found is not None)

    def expanded(self, image_id: uuid.UUID | str) -> ExpandedImage:
        """Everything about one image (yours, or anyone's public one)."""
        answer = self.request("GET", f"/api/v1/images/{image_id}/expanded", expect=200, auth=None)
        return self._parse(ExpandedImage, answer)

    def similar(
        self,
        image_id: uuid.UUID | str,
        *,
        limit: int = 20,
        max_distance: int | None = None,
        kind: Literal["duplicate", "visual"] = "duplicate",
    ) -> SimilarImages:
        """Copies of an image (kind=visual: look-alikes, nearest first): yours, or public ones."""
        params: dict[str, str | int] = {"kind": kind, "limit": limit}
        if max_distance is not None:
            params["max_distance"] = max_distance
        answer = self.request(
            "GET", f"/api/v1/images/{image_id}/similar", expect=200, auth=None, params=params
        )
        return self._parse(SimilarImages, answer)

    def duplicates_page(
        self, page: int = 1, per_page: int = 100, max_distance: int | None = None
    ) -> DuplicatePage:
        """One page of the groups of duplicates in your library, largest first."""
        params: dict[str, int] = {"page": page, "per_page": per_page}
        if max_distance is not None:
            params["max_distance"] = max_distance
        answer = self.request("GET", "/api/v1/images/duplicates", expect=200, params=params)
        return self._parse(DuplicatePage, answer)

    def duplicates(self, max_distance: int | None = None) -> Iterator[DuplicateGroup]:
        """Every group of duplicates in your library, page after page."""
        page: int | None = 1
        while page is not None:
            answer = self.duplicates_page(page, max_distance=max_distance)
            yield from answer.groups
            page = answer.next_page

    def near_images(
        self, dhashes: Sequence[str], *, max_distance: int | None = None, limit: int = 5
    ) -> HashLookup:
        """Your analysed images near each dHash (16 hex digits, up to 100; bitimage.dhash)."""
        params: dict[str, str | int | list[str]] = {"dhash": list(dhashes), "limit": limit}
        if max_distance is not None:
            params["max_distance"] = max_distance
        answer = self.request("GET", "/api/v1/images/duplicates/lookup", expect=200, params=params)
        return self._parse(HashLookup, answer)

    def download(
        self, image_id: uuid.UUID | str, destination: str | os.PathLike[str] | IO[bytes]
    ) -> ExpandedImage:
        """Stream an image's bytes (via its view URL) to a path, atomically, or a file object."""
        image = self.expanded(image_id)

        if not isinstance(destination, (str, os.PathLike)):
            self.fetch(image.view_url, destination)
            return image
        target = Path(destination)
        temp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:12]}.part")
        try:
            with open(temp, "xb") as out:  # mode 0666 minus the umask, as any new file
                self.fetch(image.view_url, out)
            os.replace(temp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp)
            raise
        return image

    def edit(
        self,
        image_id: uuid.UUID | str,
        *,
        name: str | None = None,
        is_private: bool | None = None,
        tags: Sequence[str] | None = None,
    ) -> ExpandedImage:
        """Change your image: the arguments given (tags replace the old set); the rest stays."""
        body: dict[str, object] = {}
        if name is not None:
            body["name"] = name
        if is_private is not None:
            body["is_private"] = is_private
        if tags is not None:
            body["tags"] = [{"name": tag} for tag in tags]
        answer = self.request("PATCH", f"/api/v1/images/{image_id}", expect=200, json=body)
        return self._parse(ExpandedImage, answer)

    def delete_images(self, image_ids: Iterable[uuid.UUID | str]) -> None:
        """Delete your images (all or nothing per 1000 ids); their bytes leave storage too."""
        ids = [str(i) for i in image_ids]
        for at in range(0, len(ids), URLS_PER_REQUEST):
            params = [("id", i) for i in ids[at : at + URLS_PER_REQUEST]]
            self.request("DELETE", "/api/v1/images", expect=204, params=params)

    def upload(
        self,
        sources: Iterable[Source],
        *,
        tags: Sequence[str] = (),
        is_private: bool = True,
        concurrency: int = 8,
        recursive: bool = False,
        include: Sequence[str] = (),
        exclude: Sequence[str] = (),
        progress: ProgressCallback | None = None,
        skip_near_duplicates: bool = False,
        max_distance: int | None = None,
    ) -> UploadReport:
        """Upload files and folders (paths) or file objects; bytes already held are skipped.

        Of the paths, only files with an image extension are sent unless `include` globs say
        otherwise (`exclude` globs leave files out): see `select_files`. The files left out are
        in the report's `ignored`, with their reason. `skip_near_duplicates`: skip too a picture
        whose dHash is within `max_distance` (default: the server's) of one already held or
        sent by this run (client/near.py).
        """
        expanded: list[Source] = []
        ignored: list[Ignored] = []
        for source in sources:
            if isinstance(source, (str, os.PathLike)):
                chosen = select_files([Path(source)], recursive, include, exclude)
                expanded += chosen.files
                ignored += chosen.ignored
            else:
                expanded.append(source)
        uploader = BatchUploader(
            self, tags=tags, is_private=is_private, concurrency=concurrency, progress=progress,
            skip_near_duplicates=skip_near_duplicates, max_distance=max_distance,
        )  # fmt: skip
        return uploader.run(expanded, ignored)


__all__ = ["ApiError", "Client"]
