"""Run every benchmark of the course, one after the other: `python -m benchmarks` (`make bench`).

Each benchmark times NumPy or our training recipe against PyTorch side by side in one
process and prints a table with ratios. Pass module names to run only some of them:
`python -m benchmarks bench_ops`.
"""

from __future__ import annotations

import runpy
import sys
import time

ALL = ["bench_ops", "bench_numpy_net", "bench_capstone", "bench_grading"]
# Extra arguments: bench_ops only reports a missed target as an exit status when strict.
ARGS = {"bench_ops": ["--strict"]}


def main(argv: list[str]) -> int:
    names = argv or ALL
    unknown = [n for n in names if n not in ALL]
    if unknown:
        print(f"Unknown benchmark(s): {', '.join(unknown)}. Choose from: {', '.join(ALL)}.")
        return 2
    missed = []
    for name in names:
        print(f"\n=== benchmarks.{name} ===", flush=True)
        start = time.perf_counter()
        saved_argv = sys.argv
        sys.argv = [f"benchmarks.{name}", *ARGS.get(name, [])]
        try:
            runpy.run_module(f"benchmarks.{name}", run_name="__main__", alter_sys=True)
        except SystemExit as stop:
            # A benchmark exits non-zero when it misses a target: report it, run the rest.
            if stop.code not in (None, 0):
                missed.append(name)
        finally:
            sys.argv = saved_argv
        print(f"(benchmarks.{name} took {time.perf_counter() - start:.1f} s)", flush=True)
    if missed:
        print(f"\nTargets missed in: {', '.join(missed)} (see the tables above).")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
