"""The bench harness runs, records ratios with versions and device, and rejects unknown names (no timing asserts)."""
import json, subprocess, sys
import pytest
from conftest import ROOT

sys.path.insert(0, str(ROOT / 'bench'))

def test_harness_records_a_ratio(tmp_path):
    from harness import run_benchmarks
    import benchmarks  # noqa: F401
    (rec,) = run_benchmarks(['image_labels'], repeats=1, out=tmp_path, verbose=False)
    saved = json.loads((tmp_path / 'image_labels.json').read_text())
    assert saved['speedup'] == pytest.approx(saved['reference_median_s'] / saved['candidate_median_s'])
    assert saved['env']['torch'] and saved['env']['device']
    assert '| image_labels |' in (tmp_path / 'README.md').read_text()

def test_unknown_benchmark_is_an_error(tmp_path):
    res = subprocess.run([sys.executable, str(ROOT / 'bench' / 'run.py'), 'nope', '--out', str(tmp_path)], capture_output=True, text=True)
    assert res.returncode != 0 and 'known: batch_confusion' in res.stderr

def test_fast_callables_are_timed_as_loops(tmp_path):
    "A sub-millisecond callable is timed as a loop of n calls per sample (per-call time = loop / n); a slow one once per sample."
    import time
    from harness import benchmark, run_benchmarks, BENCHMARKS
    calls = dict(c=0, r=0)
    def fast(): calls['c'] += 1
    def slow(): calls['r'] += 1; time.sleep(0.03)
    benchmark('_test_loops', 'counter', 'sleep', 'loop timing check')(lambda: (fast, slow))
    try: (rec,) = run_benchmarks(['_test_loops'], repeats=2, out=tmp_path, verbose=False, min_time=0.02)
    finally: BENCHMARKS.pop('_test_loops')
    assert rec['reference_loops'] == 1 and rec['candidate_loops'] > 10
    assert calls == dict(c=2 + 2 * rec['candidate_loops'], r=2 + 2)       # warm-up + the loop-length probe, then repeats × loops
    assert rec['reference_median_s'] >= 0.03 and rec['speedup'] > 10

def test_timing_pauses_the_garbage_collector():
    import gc
    from harness import _time
    seen = []
    _time(lambda: seen.append(gc.isenabled()), 3)
    assert seen == [False] * 3 and gc.isenabled()          # paused while timing (as timeit), restored after
