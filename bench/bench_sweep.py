"""Issue 23: a grid of equal CPU training steps (`grid-demo`) with `--workers 2` (Ray) against the sequential run, in one process.

`python bench/bench_sweep.py` writes nbs/results/sweep/sweep_workers2.json (read by nbs/14l_recipes.sweep.ipynb). Ray is started
once before the timings (its start-up is recorded separately, as `ray_start_s`); every timed run is a whole `run_recipe` call
(data loading, the trainings, metrics and report). The machine's load average before and after is recorded: on a shared
machine the ratio is a lower bound; rerun it on an idle one.
"""
from __future__ import annotations
import os, sys, tempfile, time, warnings
from pathlib import Path
sys.path.insert(0, str(Path(__file__).parent))
warnings.filterwarnings('ignore', category=FutureWarning)
from harness import benchmark, run_benchmarks

GRID = dict(seeds=4, epochs=12, device='cpu')   # 4 equal trainings of the quick preset's U-Net, 12 epochs each (Ray's ~10 s start amortised as in a real grid)
OUT = Path(__file__).resolve().parents[1] / 'nbs' / 'results' / 'sweep'

@benchmark('sweep_workers2', candidate='grid-demo, 4 steps, --workers 2 (local Ray)', reference='grid-demo, 4 steps, sequential',
           what='4 equal CPU training steps on nuclei crops (run_recipe, Ray start excluded)', max_repeats=1)
def _sweep_workers2():
    import segkit.recipes.sweep  # noqa: F401  (registers grid-demo until its provider is listed)
    from segkit.experiments import run_recipe
    from segkit.sweep import RayExecutor, use_executor
    root, runs = Path(tempfile.mkdtemp()), {}
    load0 = os.getloadavg()
    t = time.perf_counter(); ex = RayExecutor(workers=2).start(); ray_start = time.perf_counter() - t
    def cand():
        with use_executor(ex): runs['par'] = run_recipe('grid-demo', out=root, verbose=False, **GRID)
    def ref(): runs['seq'] = run_recipe('grid-demo', out=root, verbose=False, **GRID)
    def extra():
        same = (runs['par'].path / 'metrics.csv').read_text() == (runs['seq'].path / 'metrics.csv').read_text()
        ex.shutdown()
        return dict(identical_metrics=same, ray_start_s=round(ray_start, 2), steps=GRID['seeds'], workers=2, cores=os.cpu_count(),
                    load_before=[round(x, 2) for x in load0], load_after=[round(x, 2) for x in os.getloadavg()])
    return cand, ref, extra

if __name__ == '__main__':
    rec, = run_benchmarks(['sweep_workers2'], repeats=1, out=OUT)
    e = rec['extra']
    print(f"with Ray's start-up: {rec['reference_median_s'] / (rec['candidate_median_s'] + e['ray_start_s']):.2f}x; "
          f"identical metrics.csv: {e['identical_metrics']}; load average before/after: {e['load_before']} / {e['load_after']}")
