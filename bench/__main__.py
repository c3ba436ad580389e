"""``python -m bench [servers|ingest ...] [--seconds N]`` (``make bench`` runs them all)."""

from __future__ import annotations

import argparse

import uvloop

from bench import ingest, load, servers
from bench.harness import environment


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("suites", nargs="*", help="servers, ingest (default: both)")
    parser.add_argument("--seconds", type=float, default=5.0, help="measured seconds per scenario")
    parser.add_argument("--api-workers", type=int, default=1, help="API processes for the ingest suite")
    args = parser.parse_args()
    args.suites = args.suites or ["servers", "ingest"]
    unknown = set(args.suites) - {"servers", "ingest"}
    if unknown:
        parser.error(f"unknown suite(s): {', '.join(sorted(unknown))}")
    uvloop.install()
    with environment() as env:
        if "servers" in args.suites:
            print("\n## granian vs uvicorn, 1 process each, 64 connections")
            print(f"{'server':<9} {'scenario':<32} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>6}")
            for server, r in servers.compare(env, args.seconds):
                print(f"{server:<9} {r.name:<32} {r.rps:>9.0f} {r.p50_ms:>8} {r.p99_ms:>8} {r.errors:>6}")
        if "ingest" in args.suites:
            report_ingest(ingest.measure(env, args.seconds, args.api_workers), args.api_workers)


def report_ingest(results: dict[str, load.Result], workers: int) -> None:
    noop = results["noop"].rps
    print(
        f"\n## Event ingestion, {workers} API process(es) (granian), every event scheduled; vs the no-op ceiling"
    )
    print(
        f"{'scenario':<34} {'req/s':>9} {'events/s':>10} {'vs no-op':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>6}"
    )
    for key, r in results.items():
        events = r.rps * (int(key[5:]) if key.startswith("batch") else 1)
        ratio = r.rps / noop
        print(
            f"{r.name:<34} {r.rps:>9.0f} {events:>10.0f} {ratio:>8.0%} {r.p50_ms:>8} {r.p99_ms:>8} {r.errors:>6}"
        )
    single = results["single"].rps
    print(
        f"\nsingle events: {single / noop:.0%} of the no-op ceiling (target >= 60%), "
        f"{single / results['validate'].rps:.0%} of the same request validated but not stored"
    )
    best_batch = max(results["batch100"].rps * 100, results["batch1000"].rps * 1000)
    print(f"batches: {best_batch:,.0f} events/s (target >= 50,000)")


if __name__ == "__main__":
    main()
