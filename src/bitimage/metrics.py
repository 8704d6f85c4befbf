"""Prometheus metrics: what the features count, and the text `/metrics` answers.

The metric objects are made once, at import. With PROMETHEUS_MULTIPROC_DIR in the environment
(`bitimage serve --processes N` sets it when BITIMAGE_METRICS is on) prometheus-client keeps
every value in a file of that folder, and a scrape of any process adds up all of them.
Counting costs a lock and an addition whether or not anyone scrapes; BITIMAGE_METRICS only
decides whether `/metrics` exists.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Protocol

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

REQUESTS = Counter(
    "bitimage_http_requests",
    "HTTP requests answered, by method, route template and status",
    ["method", "route", "status"],
)
REQUEST_SECONDS = Histogram(
    "bitimage_http_request_duration_seconds",
    "Time from a request's arrival to the end of its answer",
    ["method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
UPLOADS = Counter("bitimage_uploads_confirmed", "Images confirmed by notify (committed)")
UPLOAD_BYTES = Counter("bitimage_uploads_confirmed_bytes", "Bytes of the images confirmed")
NOTIFY_GROUPS = Histogram(
    "bitimage_notify_group_batches",
    "Notify requests written together in one transaction (group commit)",
    buckets=(1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 64),
)
ANALYSES = Counter(
    "bitimage_analysis_runs",
    "Analyser runs on one image, by analyser and outcome (ok, failed)",
    ["analyser", "outcome"],
)
ANALYSIS_SECONDS = Histogram(
    "bitimage_analysis_duration_seconds",
    "Time one analyser took on one image",
    ["analyser"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
JOBS = Counter(
    "bitimage_jobs",
    "Jobs a worker finished, by kind and outcome (done, retried, buried)",
    ["kind", "outcome"],
)
SWEPT_GRANTS = Counter("bitimage_sweeper_expired_uploads", "Expired upload URLs the sweeper closed")
SWEPT_ORPHANS = Counter(
    "bitimage_sweeper_orphaned_objects", "Staging objects without a grant the sweeper removed"
)
PURGES = Counter("bitimage_purges", "Storage purges carried out (a key, or a user's prefix)")


class QueueStats(Protocol):
    """Job counts by state, as a queue reports them."""

    ready: int
    delayed: int
    reserved: int
    buried: int


class QueueDepth(Collector):
    """`bitimage_queue_jobs{state}`, read from the queue at scrape time (not per process)."""

    def __init__(self, stats: Callable[[], QueueStats]) -> None:
        self._stats = stats

    def collect(self) -> Iterable[GaugeMetricFamily]:
        """One gauge by state; nothing when the queue cannot answer (/healthz says why)."""
        try:
            found = self._stats()
        except Exception:  # a scrape must not fail because one backend is down
            return []
        family = GaugeMetricFamily(
            "bitimage_queue_jobs", "Jobs in the queue, by state", labels=["state"]
        )
        for state in ("ready", "delayed", "reserved", "buried"):
            family.add_metric([state], getattr(found, state))
        return [family]


def render(stats: Callable[[], QueueStats] | None = None) -> bytes:
    """Every metric in Prometheus' text format: all processes' when they share a folder."""
    if os.environ.get(MULTIPROCESS_DIR):
        counted = CollectorRegistry()
        multiprocess.MultiProcessCollector(counted)  # type: ignore[no-untyped-call]
        text = generate_latest(counted)
    else:
        text = generate_latest(REGISTRY)
    if stats is not None:
        live = CollectorRegistry()
        live.register(QueueDepth(stats))
        text += generate_latest(live)
    return text
