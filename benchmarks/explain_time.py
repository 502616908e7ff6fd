"""Wall time of one `advisor explain` as a user runs it (a new process each time).

    python benchmarks/explain_time.py [RUNS]

Prints each run and the median. Goal (issue 2): median under 0.3 s on a 2-core machine.
"""
import shutil
import statistics
import subprocess
import sys
import time

CASES = [["llama-3.1-405b", "a100-40gb"], ["llama-3.1-70b", "rtx-4090", "-p", "Q4_K_M"],
         ["llama-3.1-8b", "h100-80gb", "--format", "json"]]


def main() -> int:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    exe = shutil.which("advisor")
    cmd = [exe] if exe else [sys.executable, "-m", "advisor"]
    times = []
    for i in range(runs):
        args = CASES[i % len(CASES)]
        t = time.perf_counter()
        subprocess.run(cmd + ["explain", *args], check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - t)
        print(f"run {i + 1:2}: {times[-1]:.3f} s  advisor explain {' '.join(args)}")
    print(f"median {statistics.median(times):.3f} s  min {min(times):.3f} s  max {max(times):.3f} s  ({' '.join(cmd)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
