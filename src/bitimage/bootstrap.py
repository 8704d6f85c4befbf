"""Builds the container from Settings: the only place that picks adapters."""

from __future__ import annotations

import functools
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from bitimage.analysis.colours import ColourAnalyser
from bitimage.analysis.label_words import DefaultLabelWords
from bitimage.analysis.metadata import MetadataAnalyser
from bitimage.analysis.ports import Analyser
from bitimage.analysis.service import AnalysisService
from bitimage.analysis.tasks import ANALYZE, AnalysisTasks
from bitimage.cas.keys import KeyRing
from bitimage.cas.passwords import PasswordHashing
from bitimage.cas.ratelimit import RateLimiter
from bitimage.cas.service import CasService
from bitimage.cas.tokens import RemoteKeySource, RingKeySource, TokenIssuer, TokenVerifier
from bitimage.config import Settings
from bitimage.db.session import Database, create_db_engine
from bitimage.db.statistics import PlannerStatistics
from bitimage.images.duplicates import DuplicateService
from bitimage.images.purges import Purger
from bitimage.images.service import ImageService
from bitimage.images.summaries import SearchService
from bitimage.images.sweeper import StagingSweeper
from bitimage.images.uploads import UploadService
from bitimage.queue.db import DbJobQueue
from bitimage.queue.ports import JobQueue
from bitimage.queue.registry import JobRegistry
from bitimage.queue.relay import OutboxRelay
from bitimage.queue.worker import Worker, WorkerPool
from bitimage.renditions.service import RenditionService
from bitimage.renditions.tasks import RENDER, RenditionTasks
from bitimage.search.ports import SearchIndex
from bitimage.search.postgres import PostgresSearchIndex
from bitimage.search.sqlite import SqliteSearchIndex
from bitimage.search.vectors import VectorIndex
from bitimage.search.vectors_hnsw import HnswVectorIndex
from bitimage.search.vectors_ivf import IvfVectorIndex
from bitimage.search.vectors_upkeep import VectorUpkeep
from bitimage.storage.local import LocalSignedStore
from bitimage.storage.ports import ObjectStore
from bitimage.storage.signing import UrlSigner
from bitimage.users.service import UserService

JOB_KINDS = (ANALYZE, RENDER)


@dataclass
class Container:
    """Every wired service and adapter of one process."""

    settings: Settings
    database: Database
    store: ObjectStore
    local_store: LocalSignedStore | None
    queue: JobQueue
    search_index: SearchIndex
    verifier: TokenVerifier
    cas: CasService
    uploads: UploadService
    images: ImageService
    users: UserService
    search: SearchService
    duplicates: DuplicateService
    sweeper: StagingSweeper
    vector_upkeep: VectorUpkeep
    statistics: PlannerStatistics  # SQLite's planner statistics; nothing on PostgreSQL
    analysis: AnalysisService
    analysis_tasks: AnalysisTasks
    rendition_tasks: RenditionTasks
    purger: Purger
    jobs: JobRegistry
    relay: OutboxRelay | None = None
    closers: list[Callable[[], None]] = field(default_factory=list)

    def worker_pool(self, concurrency: int) -> WorkerPool:
        """`concurrency` workers on this container's queue, running every registered kind."""
        jobs, attempts = self.jobs, self.settings.job_max_attempts
        return WorkerPool(
            [Worker(self.queue, jobs.handle, jobs.give_up, attempts) for _ in range(concurrency)]
        )

    def close(self) -> None:
        """Release connections."""
        for closer in self.closers:
            closer()
        self.database.engine.dispose()
        if self.database.replica_engine is not None:
            self.database.replica_engine.dispose()


def load_or_create_secret(path: Path) -> bytes:
    """A random secret kept 0600 at `path`, made on first use."""
    if path.exists():
        return path.read_bytes().strip()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes().strip()
    value = secrets.token_hex(32).encode()
    with os.fdopen(fd, "wb") as handle:
        handle.write(value)
    return value


def build_store(settings: Settings) -> tuple[ObjectStore, LocalSignedStore | None]:
    """The object store named by BITIMAGE_STORAGE_URL (and the local store, when it is one)."""
    if settings.resolved_storage_url.startswith("s3://"):
        from bitimage.storage.s3 import s3_store_from_url  # an optional dependency

        s3 = s3_store_from_url(
            settings.resolved_storage_url,
            settings.s3_staging_bucket,
            settings.s3_endpoint_url,
            settings.s3_public_endpoint_url,
        )
        return s3, None
    root = Path(urlsplit(settings.resolved_storage_url).path)
    secret = (
        settings.storage_secret.encode()
        if settings.storage_secret
        else load_or_create_secret(settings.data_dir / "secrets" / "storage.key")
    )
    store = LocalSignedStore(root, UrlSigner(secret), settings.base_url)
    return store, store


def build_queue(
    settings: Settings, database: Database
) -> tuple[JobQueue, OutboxRelay | None, Callable[[], None]]:
    """The queue workers take jobs from, the relay feeding it (if any), and its wake-up call.

    Jobs are always written to the jobs table in the transaction that creates them. On db://
    that table is the queue; on beanstalk:// it is an outbox the relay empties into the tube.
    """
    if urlsplit(settings.queue_url).scheme == "db":
        # Every kind a feature registers (the registry is filled after the queue is built).
        queue = DbJobQueue(database, ttr_seconds=settings.job_ttr_seconds, kinds=JOB_KINDS)
        return queue, None, queue.notify
    from bitimage.queue.beanstalk import BeanstalkJobQueue  # an optional dependency

    beanstalk = BeanstalkJobQueue.from_url(settings.queue_url, ttr_seconds=settings.job_ttr_seconds)
    relay = OutboxRelay(database, beanstalk)
    return beanstalk, relay, relay.wake


@functools.cache
def load_analyser(name: str, threads: int, models: Path) -> Analyser:
    """One analyser, loaded once per process: models are read-only and safe to share."""
    if name == "classifier":
        from bitimage.analysis.classifier import ClassifierAnalyser  # loads ONNX Runtime

        models.mkdir(parents=True, exist_ok=True)
        return ClassifierAnalyser(models, threads=threads)
    if name == "faces":
        from bitimage.analysis.faces import FaceAnalyser  # loads ONNX Runtime

        models.mkdir(parents=True, exist_ok=True)
        return FaceAnalyser(models, threads=threads)
    if name == "text":
        from bitimage.analysis.ocr import TextAnalyser  # loads the OCR models

        return TextAnalyser(threads=threads)
    if name == "people":
        from bitimage.analysis.people import PeopleAnalyser  # an optional dependency

        return PeopleAnalyser(threads=threads)
    if name == "metadata":
        return MetadataAnalyser()
    if name == "colours":
        return ColourAnalyser()
    raise ValueError(f"unknown analyser {name!r}")


def build_analysers(settings: Settings) -> list[Analyser]:
    """The analysers named by BITIMAGE_ANALYSERS, in order."""
    models = settings.model_cache_dir or settings.data_dir / "models"
    threads = settings.analysis_threads
    return [load_analyser(name, threads, models) for name in settings.analysers.split(",") if name]


def build_search_index(database: Database) -> SearchIndex:
    """The search index of the database's dialect, resolving labels to the analysers' words."""
    if database.dialect == "postgresql":
        return PostgresSearchIndex(DefaultLabelWords())
    return SqliteSearchIndex(DefaultLabelWords())


def build_vector_index(database: Database) -> tuple[VectorIndex, IvfVectorIndex]:
    """The vector index, and the IVF under it (which the upkeep trains).

    SQLite: the inverted-file index in plain tables (search/vectors_ivf.py). PostgreSQL:
    pgvector's HNSW where migration 0013 found pgvector on the server, the IVF where it did not
    (search/vectors_hnsw.py decides per database, since the schema is known only once migrated).
    """
    ivf = IvfVectorIndex()
    if database.dialect == "postgresql":
        return HnswVectorIndex(ivf), ivf
    return ivf, ivf


def build_verifier(settings: Settings, issuer: TokenIssuer) -> TokenVerifier:
    """Trust the built-in CAS, or the external issuer of BITIMAGE_JWKS_URL."""
    if settings.jwks_url is not None:
        return TokenVerifier(RemoteKeySource(settings.jwks_url), settings.issuer)
    return TokenVerifier(RingKeySource(issuer.keys), settings.issuer)


def build_users(settings: Settings, images: ImageService, cas: CasService) -> UserService:
    """Accounts; their images go with them, and with the built-in CAS, their identity too.

    Users import no other feature: what an account's deletion takes along is wired here.
    """
    if settings.jwks_url is not None:  # an external issuer: its identities are not ours
        return UserService(settings, on_account_deleted=[images.delete_all_of_user])
    return UserService(
        settings,
        on_account_deleted=[images.delete_all_of_user, cas.delete_identity],
        identity_exists=cas.identity_exists,
    )


def bootstrap(settings: Settings) -> Container:
    """Wire every adapter and service for these settings."""
    # 0700 when made here (missing parents get the usual mode); an operator's folder is kept.
    settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    read_url = settings.database_read_url
    database = Database(
        create_db_engine(settings.resolved_database_url),
        create_db_engine(read_url) if read_url else None,
    )
    store, local_store = build_store(settings)
    search_index = build_search_index(database)
    vectors, ivf = build_vector_index(database)
    keys = KeyRing(settings.resolved_cas_key_file)
    issuer = TokenIssuer(keys, settings.issuer, settings.token_ttl_seconds)
    verifier = build_verifier(settings, issuer)
    cas = CasService(
        PasswordHashing(settings.argon2_time_cost, settings.argon2_memory_kib),
        issuer,
        verifier,
        RateLimiter(settings.login_attempts_per_minute, 60.0),
        RateLimiter(settings.signup_attempts_per_minute, 60.0),
    )
    purger = Purger(database, store)
    queue, relay, jobs_queued = build_queue(settings, database)
    rendition_tasks = RenditionTasks(
        database,
        RenditionService(store, settings.max_image_pixels, settings.view_url_ttl_seconds),
        jobs_queued,
    )
    images = ImageService(
        settings,
        store,
        search_index,
        purger.run,
        public_copies=rendition_tasks.public_copies,
        request_renditions=rendition_tasks.request_renditions,
    )
    analysis = AnalysisService(
        store,
        search_index,
        vectors,
        lambda: build_analysers(settings),
        settings.max_image_pixels,
        settings.moderation_threshold,
    )
    # Renditions come first in every analyze job: see README, Renditions.
    analysis_tasks = AnalysisTasks(database, analysis, [rendition_tasks.first_step])
    jobs = JobRegistry()
    analysis_tasks.register(jobs)  # each feature declares its job kinds in its tasks.py
    rendition_tasks.register(jobs)
    if tuple(jobs.kinds) != JOB_KINDS:  # the db:// queue takes only the kinds it was given
        raise RuntimeError(f"job kinds {jobs.kinds} differ from JOB_KINDS {JOB_KINDS}")
    closers = [queue.close] if hasattr(queue, "close") else []
    return Container(
        settings=settings,
        database=database,
        store=store,
        local_store=local_store,
        queue=queue,
        search_index=search_index,
        verifier=verifier,
        cas=cas,
        uploads=UploadService(settings, database, store, search_index, jobs_queued),
        images=images,
        users=build_users(settings, images, cas),
        search=SearchService(search_index, images),
        duplicates=DuplicateService(settings, images, vectors),
        sweeper=StagingSweeper(database, store, purger, settings.upload_url_ttl_seconds),
        vector_upkeep=VectorUpkeep(database, ivf, settings.vector_index_train_from),
        statistics=PlannerStatistics(database),
        analysis=analysis,
        analysis_tasks=analysis_tasks,
        rendition_tasks=rendition_tasks,
        purger=purger,
        jobs=jobs,
        relay=relay,
        closers=closers,
    )
