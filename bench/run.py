"""`make bench`: run segkit's benchmarks and write bench/results/*.json and bench/results/README.md."""
import argparse, sys, warnings
from pathlib import Path
sys.path.insert(0, str(Path(__file__).parent))
warnings.filterwarnings('ignore', category=FutureWarning)
from harness import BENCHMARKS, run_benchmarks
import benchmarks  # noqa: F401  (registers them)
import bench_sweep, bench_fewshot, bench_plantseg, bench_noise, bench_msd, bench_runs, bench_stack, bench_ux, bench_rcnn, bench_im, bench_spoco  # noqa: F401  (benchmarks of the method issues)

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument('names', nargs='*', help=f"benchmarks to run (default: all of {', '.join(BENCHMARKS)})")
    p.add_argument('--repeats', type=int, default=7, help='timed repetitions of each side (medians are reported)')
    p.add_argument('--out', default=str(Path(__file__).parent / 'results'), help='output folder')
    a = p.parse_args()
    try: run_benchmarks(a.names, a.repeats, a.out)
    except (KeyError, ValueError, RuntimeError) as e: sys.exit(f"bench: {e.args[0]}")
