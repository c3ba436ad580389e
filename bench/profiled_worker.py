"""``python -m bench.profiled_worker PATH``: ``lxt worker`` under cProfile, counting CPU time (not wall time, which
on a shared machine is mostly waiting for a core), written to PATH (pstats) when the worker stops."""

from __future__ import annotations

import cProfile
import sys
import time

from server import cli


def main() -> None:
    path = sys.argv[1]
    profile = cProfile.Profile(time.process_time)
    try:
        profile.runcall(cli.main, ["worker"])
    finally:
        profile.dump_stats(path)


if __name__ == "__main__":
    main()
