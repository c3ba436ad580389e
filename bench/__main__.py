"""``python -m bench [servers|ingest ...] [--seconds N]`` (``make bench`` runs them all)."""

from __future__ import annotations

import argparse

import uvloop

from bench import servers
from bench.harness import environment


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("suites", nargs="*", default=["servers"], choices=["servers"])
    parser.add_argument("--seconds", type=float, default=5.0, help="measured seconds per scenario")
    args = parser.parse_args()
    uvloop.install()
    with environment() as env:
        if "servers" in args.suites:
            print("\n## granian vs uvicorn, 1 process each, 64 connections")
            print(f"{'server':<9} {'scenario':<32} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>6}")
            for server, r in servers.compare(env, args.seconds):
                print(f"{server:<9} {r.name:<32} {r.rps:>9.0f} {r.p50_ms:>8} {r.p99_ms:>8} {r.errors:>6}")


if __name__ == "__main__":
    main()
