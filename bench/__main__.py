"""``python -m bench [servers|ingest|send|inbound|export ...] [--seconds N]`` (``make bench`` runs them all)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import msgspec
import uvloop

from bench import export, inbound, ingest, load, send, servers
from bench.harness import environment

SUITES = ("servers", "ingest", "send", "inbound", "export")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("suites", nargs="*", help=f"{', '.join(SUITES)} (default: all)")
    parser.add_argument("--seconds", type=float, default=5.0, help="measured seconds per scenario")
    parser.add_argument("--api-workers", type=int, default=1, help="API processes for the ingest suite")
    parser.add_argument("--rate", type=float, default=300.0, help="send: events per second, sustained")
    parser.add_argument("--workers", type=int, default=1, help="send: lxt worker processes")
    parser.add_argument("--backlog", type=int, default=6000, help="send: events of the backlog drained at once")
    parser.add_argument("--noop-jobs", type=int, default=20_000, help="send: jobs of the no-op ceiling")
    parser.add_argument(
        "--profile", type=Path, help="send: run the backlog's workers under cProfile, their profiles written here"
    )
    parser.add_argument(
        "--json",
        type=Path,
        help="send, inbound, export: write the results here (default: bench/results/<suite>-<time>.json)",
    )
    parser.add_argument("--customers", type=int, default=6000, help="inbound: customers with an open conversation")
    parser.add_argument(
        "--connections",
        type=lambda text: [int(n) for n in text.split(",")],
        default=[4, 16, 32, 64],
        help="inbound: concurrent webhook requests, one level or several (default 4,16,32,64)",
    )
    parser.add_argument("--answers", type=int, default=1_000_000, help="export: answers loaded and exported")
    parser.add_argument("--rounds", type=int, default=3, help="export: rounds of every format, interleaved")
    parser.add_argument(
        "--sav-answers", type=int, default=100_000, help="export: answers of the SPSS sample (0: no SPSS)"
    )
    args = parser.parse_args()
    args.suites = args.suites or list(SUITES)
    unknown = set(args.suites) - set(SUITES)
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
        if "send" in args.suites:
            results = send.measure(
                env,
                rate=args.rate,
                seconds=args.seconds,
                workers=args.workers,
                backlog=args.backlog,
                noop_jobs=args.noop_jobs,
                profile=args.profile,
            )
            report_send(results)
            write_results(results, args.json, "send")
        if "inbound" in args.suites:
            answered = inbound.measure(
                env, seconds=args.seconds, customers=args.customers, connections=args.connections
            )
            report_inbound(answered)
            write_results(answered, args.json, "inbound")
        if "export" in args.suites:
            exported = export.measure(env, answers=args.answers, rounds=args.rounds, sav_answers=args.sav_answers)
            report_export(exported)
            write_results(exported, args.json, "export")


def write_results(results: msgspec.Struct, path: Path | None, suite: str) -> None:
    path = path or Path("bench/results") / time.strftime(f"{suite}-%Y%m%dT%H%M%S.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(msgspec.json.format(msgspec.json.encode(results)) + b"\n")
    print(f"\nresults: {path}")


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


def report_send(r: send.SendResults) -> None:
    s, b, n = r.sustained, r.backlog, r.noop
    print(
        f"\n## Invitations at once (delay PT0S) through the fake Twilio, {r.workers} worker process(es), "
        f"max_jobs {r.max_jobs}, sender rate {r.sender_rate:.0f}/s"
    )
    print(
        f"sustained {s.rate:.0f} events/s for {s.seconds:.0f} s: {s.events} events, {s.received} messages, "
        f"{s.errors} errors; {s.sends_per_second:.0f} sends/s ({s.sends_per_second_per_worker:.0f} per worker)"
    )
    print(f"{'event → provider latency':<26} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    lat = s.latency
    print(f"{'':<26} {lat.p50_ms:>8.0f} {lat.p95_ms:>8.0f} {lat.p99_ms:>8.0f} {lat.max_ms:>8.0f}")
    print(
        f"\n{'drained at once':<28} {'jobs':>7} {'tries':>7} {'per s':>8} {'per s/worker':>13} {'10–90 % s':>10} {'all s':>7}"
    )
    for name, d in (("no-op job (ceiling)", n), ("send (backlog)", b)):
        print(
            f"{name:<28} {d.jobs:>7} {d.tries:>7} {d.per_second:>8.0f} {d.per_second_per_worker:>13.0f} "
            f"{d.seconds:>10.2f} {d.total_seconds:>7.2f}"
        )
    print(
        f"\np99 {lat.p99_ms / 1000:.2f} s (target < 2 s: {'met' if lat.p99_ms < 2000 else 'MISSED'}); "
        f"sends {r.ratio:.0%} of the no-op job rate per worker (target >= 50%: "
        f"{'met' if r.ratio >= 0.5 else 'MISSED'})"
    )


def report_inbound(r: inbound.InboundResults) -> None:
    print(
        f"\n## Inbound SMS answered in the webhook: {r.customers} open conversations, 1 API process (granian); "
        "vs the no-op ceiling at the same concurrency"
    )
    print(
        f"{'connections':>11} {'scenario':<28} {'req/s':>7} {'p50 ms':>8} {'p99 ms':>8} {'errors':>6} "
        f"{'p50 ×':>6} {'p99 ×':>6} {'rate':>5} {'CPU ms/reply: API':>18} {'PostgreSQL':>10}"
    )
    for level in r.levels:
        for name, lat in (("GET /health (no-op)", level.noop), ("POST /webhooks/twilio/sms", level.inbound)):
            line = (
                f"{level.connections:>11} {name:<28} {lat.per_second:>7.0f} {lat.p50_ms:>8} {lat.p99_ms:>8} "
                f"{lat.errors:>6}"
            )
            if lat is level.inbound:
                pg = f"{level.postgres_cpu_ms:>10.2f}" if level.postgres_cpu_ms is not None else f"{'-':>10}"
                line += (
                    f" {level.p50_ratio:>6.1f} {level.p99_ratio:>6.1f} {level.rate_ratio:>5.0%} "
                    f"{level.api_cpu_ms:>18.2f} {pg}"
                )
            print(line)
    met = [level.connections for level in r.levels if level.inbound.p99_ms < 100]
    print(
        f"\np99 < 100 ms (the target) at {', '.join(map(str, met)) or 'no level of'} connections; "
        f"missed at {', '.join(str(lv.connections) for lv in r.levels if lv.connections not in met) or 'none'}"
    )
    print(f"outcomes: {', '.join(f'{k} {v}' for k, v in r.outcomes.items())}")


def report_export(r: export.ExportResults) -> None:
    print(
        f"\n## Exports of responses-long, {r.answers:,} answers, {r.rounds} rounds interleaved; vs a raw COPY of the "
        f"same rows\n{r.machine}"
    )
    print(
        f"{'format':<13} {'rows':>10} {'MB':>7} {'rows/s':>9} {'vs COPY':>8} {'each round':>20} {'CPU s':>6} "
        f"{'PostgreSQL CPU s':>16}"
    )
    for rate in [*r.rates, *([r.sav] if r.sav else [])]:
        rounds = " ".join(f"{ratio:.2f}" for ratio in rate.ratios)
        pg = f"{rate.postgres_cpu_seconds:>16.2f}" if rate.postgres_cpu_seconds is not None else f"{'-':>16}"
        print(
            f"{rate.kind:<13} {rate.rows:>10,} {rate.megabytes:>7.1f} {rate.rows_per_second:>9,.0f} "
            f"{rate.ratio:>7.0%} {rounds:>20} {rate.cpu_seconds:>6.2f} {pg}"
        )
    print(f"\n{'peak RSS (MB)':<13} rows → MB")
    for memory in r.memory:
        grown = ", ".join(f"{rows:,} → {mb:.0f}" for rows, mb in zip(memory.rows, memory.peak_rss_mb, strict=True))
        print(f"{memory.kind:<13} {grown}")
    ratios = {rate.kind: rate.ratio for rate in r.rates}
    flat = all(m.peak_rss_mb[-1] <= m.peak_rss_mb[0] * 1.1 + 5 for m in r.memory if m.kind in export.STREAMING)
    print(
        f"\nCSV {ratios['csv']:.0%} of raw COPY (target >= 30%: {'met' if ratios['csv'] >= 0.3 else 'MISSED'}); "
        f"Parquet {ratios['parquet']:.0%} (target >= 20%: {'met' if ratios['parquet'] >= 0.2 else 'MISSED'}); "
        f"memory {'flat' if flat else 'NOT flat'} as rows grow"
    )


if __name__ == "__main__":
    main()
