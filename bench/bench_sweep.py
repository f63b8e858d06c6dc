"""Issue 23: a grid of equal CPU training steps (`grid-demo`) with `--workers 2` (a local Ray) against the sequential run.

`python bench/bench_sweep.py` (about 8 min on an idle 2-core machine) writes nbs/results/sweep/sweep_workers2.json, read by
nbs/14l_recipes.sweep.ipynb. In one process it times three whole `run_recipe` calls of the same 8-step grid:

- `seq_default`: sequential, torch's default threads (all cores: what `segkit run grid-demo` does);
- `ray`: `--workers 2` from cold: `ray.init`, the workers importing segkit (`RayExecutor.warm`), the steps, `ray.shutdown`
  not counted; each worker runs its steps with cores ÷ 2 torch threads;
- `seq_threads`: sequential with the workers' thread count (`Sequential(threads=cores ÷ 2)`), the run whose results the
  Ray run must equal byte for byte (torch's CPU sums depend on the thread count).

Each sequential run reads the data once (`source_arrays` cache cleared first), like a fresh `segkit run`; each Ray worker
reads it once too. Ratios are reference ÷ candidate (> 1: Ray is faster). The load average is recorded around every run:
on a machine that others load the ratios mean little; `--tiny` checks the script in a minute.
"""
from __future__ import annotations
import argparse, json, os, sys, tempfile, time, warnings
from pathlib import Path
sys.path.insert(0, str(Path(__file__).parent))
warnings.filterwarnings('ignore', category=FutureWarning)
from harness import benchmark, write_table

GRID = dict(seeds=8, epochs=12, device='cpu')   # 8 equal trainings of the quick preset's U-Net, 12 epochs each: a realistic small sweep
TINY = dict(seeds=2, epochs=1, epoch_len=8, crop=32, eval_crop=64, device='cpu')   # checks the script, measures nothing
OUT = Path(__file__).resolve().parents[1] / 'nbs' / 'results' / 'sweep'

def _load() -> list: return [round(x, 2) for x in os.getloadavg()]

def _same(a:Path, b:Path) -> bool:
    "Byte-identical `metrics.csv` and step files."
    files = lambda r: {p.relative_to(r).as_posix(): p.read_bytes() for p in [r / 'metrics.csv', *sorted((r / 'steps').glob('*.json'))]}
    return files(a) == files(b)

def measure(grid:dict=GRID, workers:int=2, root=None) -> dict:
    "Time the three runs of `grid` (see the module docstring); every time, ratio and load average in one dict."
    import torch
    import segkit.recipes.sweep  # noqa: F401  (registers grid-demo until its provider is listed)
    from segkit.experiments import run_recipe
    from segkit.recipes.sweep import source_arrays
    from segkit.sweep import RayExecutor, Sequential, use_executor
    root = Path(root or tempfile.mkdtemp())
    cores = len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else os.cpu_count()
    k = max(1, cores // workers)
    r = dict(preset='tiny' if grid == TINY else 'grid', grid=grid, steps=grid.get('seeds', 4) * len(grid.get('lrs', (0,))), workers=workers, cores=cores,
             threads_default=torch.get_num_threads(), threads_per_worker=k, load={})
    t = time.perf_counter(); source_arrays.cache_clear(); source_arrays('nuclei'); r['data_load_s'] = time.perf_counter() - t
    runs = {}
    def seq(key, ex):
        source_arrays.cache_clear()
        r['load'][key] = [_load()]
        t = time.perf_counter()
        with use_executor(ex): runs[key] = run_recipe('grid-demo', out=root / key, verbose=False, **grid)
        r[f'{key}_s'] = time.perf_counter() - t; r['load'][key].append(_load())
    seq('seq_default', None)
    r['load']['ray'] = [_load()]
    t = time.perf_counter()
    ex = RayExecutor(workers=workers).start()
    t1 = time.perf_counter()
    with use_executor(ex): runs['ray'] = run_recipe('grid-demo', out=root / 'ray', verbose=False, **grid)
    r['ray_s'] = time.perf_counter() - t
    r['load']['ray'].append(_load())
    r.update(ray_init_s=ex.startup['ray_init_s'], ray_warm_s=ex.startup.get('warm_s', 0.), ray_worker_import_s=ex.startup.get('worker_import_s', []))
    r['ray_steps_s'] = time.perf_counter() - t1 - r['ray_warm_s']   # the recipe on warm workers: steps, metrics, report
    t = time.perf_counter(); ex.shutdown(); r['ray_shutdown_s'] = time.perf_counter() - t
    seq('seq_threads', Sequential(threads=k))
    r.update(identical_vs_seq_threads=_same(runs['ray'].path, runs['seq_threads'].path),
             identical_vs_seq_default=_same(runs['ray'].path, runs['seq_default'].path))
    r['ray_overhead_s'] = r['ray_init_s'] + r['ray_warm_s']
    r['ratios'] = dict(
        vs_default_total=r['seq_default_s'] / r['ray_s'],              # the number: a cold `--workers 2` run against `segkit run`
        vs_default_steps=r['seq_default_s'] / r['ray_steps_s'],        # Ray already started and warm (a notebook, a long session)
        vs_threads_total=r['seq_threads_s'] / r['ray_s'],              # against the sequential run with identical results
        vs_threads_steps=r['seq_threads_s'] / r['ray_steps_s'],
        threads_gain=r['seq_threads_s'] / r['seq_default_s'],          # what all cores' threads gain for one training
        ceiling_vs_default=workers * r['seq_default_s'] / r['seq_threads_s'])   # vs_default_steps with zero Ray overhead
    return r

def record(r:dict) -> dict:
    "The harness's record (so `bench/results`-style tables read it): candidate = cold Ray run, reference = sequential default."
    from segkit.experiments import env_info
    return dict(name='sweep_workers2', what=f"{r['steps']} equal CPU training steps of grid-demo on nuclei (whole run_recipe calls)",
                candidate=f"--workers {r['workers']} (local Ray, cold: start-up counted)", reference='sequential, default threads',
                repeats=1, candidate_median_s=r['ray_s'], reference_median_s=r['seq_default_s'], speedup=r['ratios']['vs_default_total'],
                env=env_info('cpu'), when=time.strftime('%Y-%m-%dT%H:%M:%S'), extra=r)

@benchmark('sweep_workers2', candidate='grid-demo, 4 steps, --workers 2 (local Ray, started and warm)',
           reference='grid-demo, 4 steps, sequential with the workers\' threads (identical results)',
           what='4 equal CPU training steps on nuclei crops (run_recipe, Ray start excluded; full breakdown: python bench/bench_sweep.py)', max_repeats=1)
def _sweep_workers2():
    "For `bench/run.py`: the steps only, against the equal-thread sequential run."
    import segkit.recipes.sweep  # noqa: F401
    from segkit.experiments import run_recipe
    from segkit.sweep import RayExecutor, Sequential, use_executor
    grid, root, runs = dict(GRID, seeds=4), Path(tempfile.mkdtemp()), {}
    ex = RayExecutor(workers=2).start()
    def cand():
        with use_executor(ex): runs['par'] = run_recipe('grid-demo', out=root, verbose=False, **grid)
    def ref():
        with use_executor(Sequential(threads=ex.threads)): runs['seq'] = run_recipe('grid-demo', out=root, verbose=False, **grid)
    def extra():
        same = _same(runs['par'].path, runs['seq'].path); st = dict(ex.startup); ex.shutdown()
        return dict(identical_metrics=same, ray_startup=st, load=_load())
    return cand, ref, extra

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--tiny', action='store_true', help='2 one-epoch steps: check the script (writes to --out, default a temporary folder; the JSON says preset "tiny")')
    ap.add_argument('--out', default=None, help=f'folder of the JSON (default: {OUT}; with --tiny a temporary folder)')
    a = ap.parse_args()
    out = Path(a.out or (tempfile.mkdtemp() if a.tiny else OUT)); out.mkdir(parents=True, exist_ok=True)
    rec = record(measure(TINY if a.tiny else GRID))
    (out / 'sweep_workers2.json').write_text(json.dumps(rec, indent=2))
    write_table(out)
    e, q = rec['extra'], rec['extra']['ratios']
    print(f"{out / 'sweep_workers2.json'}: {e['steps']} steps; sequential {e['seq_default_s']:.1f} s (default threads), "
          f"{e['seq_threads_s']:.1f} s ({e['threads_per_worker']} thread(s)); Ray {e['ray_s']:.1f} s = init {e['ray_init_s']:.1f} + warm {e['ray_warm_s']:.1f} + steps {e['ray_steps_s']:.1f}")
    print(f"speed-up vs default: {q['vs_default_total']:.2f}x cold, {q['vs_default_steps']:.2f}x warm (ceiling {q['ceiling_vs_default']:.2f}x); "
          f"vs equal threads: {q['vs_threads_total']:.2f}x cold, {q['vs_threads_steps']:.2f}x warm; "
          f"identical vs equal threads: {e['identical_vs_seq_threads']}, vs default: {e['identical_vs_seq_default']}; load {e['load']}")
