"""CPU-time ratios for benchmarks run on a loaded machine.

`time.thread_time` counts only the CPU this thread used, so it does not grow when the scheduler hands the core to another
process. (On this shared 2-core machine a call that starts right after a long CPU burst — the reference, in the harness's
interleaved order — is usually preempted once, which adds a whole timeslice of wall time to a ~1 ms call.) Caches
trashed by the other process still show, so this is a check on the wall-clock ratio, not a substitute for an idle run.
"""
import statistics, time

def cpu_ratio(cand, ref, repeats:int=15, clock=time.thread_time) -> dict:
    "Medians of CPU time for `cand` and `ref`, interleaved as the harness does, and their ratio (`clock=time.process_time` for multi-threaded torch work)."
    tc, tr = [], []
    cand(); ref()
    for _ in range(repeats):
        t = clock(); cand(); tc.append(clock() - t)
        t = clock(); ref(); tr.append(clock() - t)
    c, r = statistics.median(tc), statistics.median(tr)
    return dict(cpu_candidate_ms=round(c * 1e3, 3), cpu_reference_ms=round(r * 1e3, 3), cpu_speedup=round(r / c, 2))
