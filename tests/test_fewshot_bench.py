"""bench/bench_fewshot.py on tiny windows: every field the issue's Performance line asks for is recorded, and the numbers
hang together (the timings themselves are only meaningful on an idle machine at 256²; see the module's docstring)."""
import json, sys
from conftest import ROOT
sys.path.insert(0, str(ROOT / 'bench'))

def test_fewshot_bench_tiny(tmp_path):
    import bench_fewshot
    rec = {r['name']: r for r in bench_fewshot.main(out=tmp_path, size=32, features=(4,))}['fewshot_fit_4_w32']
    e = rec['extra']
    assert (e['pixels'], e['window'], e['features']) == (5 * 32 * 32, 32, 4)
    assert e['agree_1e3'] and e['objective_diff'] < 1e-3
    assert e['objective_bfgs'] <= e['objective_logreg'] + 1e-9                    # the refinement never loses on Eq. 4.2
    assert e['design'].startswith('float64') and e['fallback_design'].startswith('float32') and e['fallback_objective_diff'] < 1e-3
    assert e['bfgs_refine_s'] >= 0 and e['logreg_s'] >= 0 and e['logreg_iter'] >= 1   # seconds are rounded to 0.01: a fast machine shows 0.0
    assert e['design_mb_k10_float64'] == round(10 * 32 * 32 * 4 * 8 / 2**20, 0)
    saved = json.loads((tmp_path / 'fewshot_fit_4_w32.json').read_text())
    assert saved['extra']['features'] == 4 and not (ROOT / 'nbs/results/fewshot/bench/fewshot_fit_4_w32.json').exists()
