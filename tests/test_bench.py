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
