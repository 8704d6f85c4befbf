"""bench_search.py's figures: the table per database, the verdicts against issue 17's targets.

Every kind's p50 / p99 of one scope, with its ratio to the same run's unfiltered page (the
baseline, measured with the same load on the machine), and the JSON form of `--json`.
"""

from __future__ import annotations

from pathlib import Path

try:
    from bench._common import percentile, table
    from bench._search_queries import UNFILTERED, Timings
except ModuleNotFoundError:  # run as `python bench/bench_search.py`
    from _common import percentile, table  # type: ignore[import-not-found,no-redef]
    from _search_queries import UNFILTERED, Timings  # type: ignore[import-not-found,no-redef]

Results = dict[str, dict[str, Timings]]  # scope -> kind -> timings


def summary(found: Timings) -> dict[str, float]:
    """n, p50 and p99 of one kind."""
    times = sorted(found.times)
    if not times:
        return {"n": 0, "p50_ms": 0.0, "p99_ms": 0.0}
    return {
        "n": len(times),
        "p50_ms": round(percentile(times, 0.5), 2),
        "p99_ms": round(percentile(times, 0.99), 2),
    }


def report(title: str, results: Results) -> str:
    """The figures of one database as a table, with ratios to the same-run unfiltered page."""
    scopes = list(results)
    header = ["kind"]
    for scope in scopes:
        header += [f"{scope} p50", "p99", "x base", "n", "hits"]
    rows = []
    for kind in results[scopes[0]]:
        row: list[object] = [kind]
        for scope in scopes:
            got, base = summary(results[scope][kind]), summary(results[scope][UNFILTERED])
            hits = results[scope][kind].hits
            ratio = got["p99_ms"] / base["p99_ms"] if base["p99_ms"] else 0.0
            row += [f"{got['p50_ms']:.1f}", f"{got['p99_ms']:.1f}", f"{ratio:.1f}", int(got["n"])]
            row.append(f"{sum(hits) / len(hits):.0f}" if hits else "-")
        rows.append(row)
    return f"{title}\n{table(rows, header)}"


def verdict(name: str, results: Results, scope: str, limit: float, unfiltered: bool) -> str:
    """Whether every kind (or the unfiltered one) of a scope is under `limit` ms at p99."""
    worst = max(
        (
            (summary(t)["p99_ms"], kind)
            for kind, t in results[scope].items()
            if (kind == UNFILTERED) == unfiltered
        ),
        default=(0.0, "none"),  # --kinds left only the baseline
    )
    what = "unfiltered" if unfiltered else "every filtered kind"
    state = "met" if worst[0] < limit else f"MISSED (worst {worst[1]}: {worst[0]:.0f} ms)"
    return f"target {name} {scope}, {what} p99 < {limit:.0f} ms: {state}"


def figures(results: Results) -> dict[str, dict[str, dict[str, float]]]:
    """The JSON form: scope -> kind -> n, p50_ms, p99_ms."""
    return {scope: {k: summary(t) for k, t in kinds.items()} for scope, kinds in results.items()}


_DAMON = Path("/sys/kernel/mm/damon/admin/kdamonds")


def reclaim_note(root: Path = _DAMON) -> str:
    """A line saying the kernel pages out memory left unread (DAMON's pageout), if it does.

    Such a host drops any page of the databases not read for a while (a minute on the VM of
    bench/README), so a kind's p99 then includes reads from disk that the code does not choose.
    """
    idle = []
    for kdamond in sorted(root.glob("[0-9]*")):
        try:
            if (kdamond / "state").read_text().strip() != "on":
                continue
            for scheme in kdamond.glob("contexts/*/schemes/[0-9]*"):
                if (scheme / "action").read_text().strip() != "pageout":
                    continue
                age = int((scheme / "access_pattern/age/min").read_text())
                attrs = scheme.parent.parent / "monitoring_attrs/intervals/aggr_us"
                idle.append(age * int(attrs.read_text()) / 1e6)
        except (OSError, ValueError):
            continue  # not readable here: nothing to say
    if not idle:
        return ""
    return (
        f"note: this kernel pages out memory left unread for {min(idle):.0f} s (DAMON pageout): "
        "pages of the databases not read that recently come from disk\n"
    )
