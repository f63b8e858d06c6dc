"""Benchmark harness: each benchmark times a candidate against a reference in the same process and reports the ratio.

A benchmark is a function registered with `@benchmark(...)` that returns `(candidate, reference)`: two zero-argument
callables doing the same work. The harness warms both up, times them interleaved `repeats` times, and records the
medians and `speedup = median(reference) / median(candidate)` (> 1: the candidate is faster), with versions and device.
A callable faster than `min_time` (50 ms) is timed as a loop of `n` calls per sample (n from its warm-up time, as `timeit`'s
autorange does) and its per-call time is the loop's time / n: a single sub-millisecond call right after the other callable's long
burst measures cache refills and a scheduler preemption, not the work (`candidate_loops`/`reference_loops` record n). The cyclic
garbage collector is paused while timing, as `timeit` does: a full collection walks every object of the process (torch's
included) and lands on whichever callable happens to allocate the container that triggers it (a 170 ms pause every ~11 calls of
the pure-Python GAEC reference).
Timings are never asserted in tests; ratios measured in one run are what the targets in issues refer to.
"""
from __future__ import annotations
import gc, json, statistics, time
from pathlib import Path
from typing import Callable

BENCHMARKS: dict[str, dict] = {}

class MissingOptional(RuntimeError):
    "Raised by a benchmark whose peer library is not installed: skipped when running all, an error when named."

def benchmark(name:str, candidate:str, reference:str, what:str, max_repeats:int|None=None):
    "Register `fn() -> (candidate_callable, reference_callable[, extra])` under `name` (`max_repeats` caps slow ones)."
    def _reg(fn):
        if name in BENCHMARKS: raise ValueError(f"benchmark {name!r} registered twice")
        BENCHMARKS[name] = dict(fn=fn, candidate=candidate, reference=reference, what=what, max_repeats=max_repeats)
        return fn
    return _reg

def _sync():
    import torch
    if torch.cuda.is_available(): torch.cuda.synchronize()

def _time(f:Callable, n:int=1) -> float:
    "Seconds per call of `f`, timed as one loop of `n` calls with Python's cyclic garbage collector paused (as `timeit` does)."
    gc_was = gc.isenabled(); gc.disable()
    try:
        _sync(); t = time.perf_counter()
        for _ in range(n): f()
        _sync()
        return (time.perf_counter() - t) / n
    finally:
        if gc_was: gc.enable()

def _loops(t_warm:float, min_time:float) -> int:
    "Calls per timed sample so that one sample lasts about `min_time` (1 for callables slower than that; at most 1000)."
    return 1 if t_warm >= min_time else int(min(1000, -(-min_time // max(t_warm, 1e-6))))

def run_benchmarks(names=None, repeats:int=7, out='bench/results', verbose:bool=True, min_time:float=0.05) -> list[dict]:
    "Run the named benchmarks (default: all), write `out/<name>.json` and `out/README.md`; return the records."
    from segkit.experiments import env_info
    explicit = bool(names)
    names = list(names or BENCHMARKS)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown: raise KeyError(f"unknown benchmark(s) {unknown}; known: {', '.join(BENCHMARKS)}")
    if repeats < 1: raise ValueError(f"`repeats` must be ≥ 1, got {repeats}")
    out = Path(out); out.mkdir(parents=True, exist_ok=True)
    env, records = env_info(), []
    for name in names:
        b = BENCHMARKS[name]
        try: cand, ref, *extra = b['fn']()
        except MissingOptional as e:
            if explicit: raise
            print(f"{name:24s} skipped: {e}"); continue
        cand(); ref()                                   # warm-up (caches, lazy init, cuDNN autotune)
        nc, nr = _loops(_time(cand), min_time), _loops(_time(ref), min_time)
        tc, tr = [], []
        reps = min(repeats, b['max_repeats'] or repeats)
        for _ in range(reps): tc.append(_time(cand, nc)); tr.append(_time(ref, nr))
        rec = dict(name=name, what=b['what'], candidate=b['candidate'], reference=b['reference'], repeats=reps,
                   candidate_median_s=statistics.median(tc), reference_median_s=statistics.median(tr),
                   speedup=statistics.median(tr) / statistics.median(tc), candidate_loops=nc, reference_loops=nr, env=env,
                   when=time.strftime('%Y-%m-%dT%H:%M:%S'))
        if extra: rec['extra'] = extra[0]()             # measurements beyond the ratio (e.g. throughput, memory)
        (out / f'{name}.json').write_text(json.dumps(rec, indent=2))
        records.append(rec)
        if verbose: print(f"{name:24s} {rec['speedup']:8.2f}x  ({b['candidate']}: {rec['candidate_median_s']*1e3:.2f} ms, {b['reference']}: {rec['reference_median_s']*1e3:.2f} ms)"
                          + (f"  {rec['extra']}" if extra else ''))
    write_table(out)
    return records

def write_table(out) -> Path:
    "Markdown table of every recorded result in `out`."
    out = Path(out)
    recs = [json.loads(p.read_text()) for p in sorted(out.glob('*.json'))]
    lines = ["# Benchmark results", "", "Ratios measured in one process: speed-up = reference median / candidate median (> 1: segkit is faster).", "",
             "| benchmark | what | candidate | reference | candidate median | reference median | speed-up | device | repeats | when |",
             "|---|---|---|---|---:|---:|---:|---|---:|---|"]
    for r in recs:
        lines.append(f"| {r['name']} | {r['what']} | {r['candidate']} | {r['reference']} | {r['candidate_median_s']*1e3:.2f} ms | "
                     f"{r['reference_median_s']*1e3:.2f} ms | **{r['speedup']:.2f}×** | {r['env']['device']} ({r['env']['device_name']}, {r['env']['threads']} threads) | {r['repeats']} | {r['when']} |")
    ex = [r for r in recs if r.get('extra')]
    if ex: lines += ["", "Other measurements:", ""] + [f"- {r['name']}: " + ', '.join(f"{k} = {v}" for k, v in r['extra'].items()) for r in ex]
    if recs: lines += ["", f"Versions: torch {recs[-1]['env']['torch']}, fastai {recs[-1]['env']['fastai']}, numpy {recs[-1]['env']['numpy']}, python {recs[-1]['env']['python']}."]
    lines += ["", "GPU check (issue 16): `bench/gpu/run` writes its throughput table and summary to `bench/results/gpu/` (gpu_throughput.md, gpu_throughput.json, gpu_check.json)."]
    p = out / 'README.md'; p.write_text('\n'.join(lines) + '\n')
    return p
