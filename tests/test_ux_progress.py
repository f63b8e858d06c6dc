"""Progress lines: `StageClock` (demo stages, with estimates from the last run on this machine) and the docs build's
`SphinxProgress` on a real (tiny) sphinx-build."""
import sys
import pytest
from segkit.experiments import StageClock, fmt_duration
from segkit.docsite import SphinxProgress, _run_lines

def test_stage_clock_estimates_from_the_last_run(tmp_path):
    f, lines = tmp_path / 'timings.json', []
    ticks = iter([0, 0, 100, 100, 400])
    sc = StageClock('demo', ['train', 'cam'], key='quick/nuclei/cpu', timings=f, say=lines.append, clock=lambda: next(ticks))
    with sc.stage('train'): pass
    with sc.stage('cam'): pass
    assert lines == ['demo [1/2] train: started', 'demo [1/2] train: done in 1.7 min; 1.7 min so far, 1 stage left (no earlier timing on this machine)',
                     'demo [2/2] cam: started', 'demo [2/2] cam: done in 5.0 min; 6.7 min so far']
    ticks, lines[:] = iter([0, 0, 50]), []
    sc = StageClock('demo', ['train', 'cam'], key='quick/nuclei/cpu', timings=f, say=lines.append, clock=lambda: next(ticks))
    with sc.stage('train'): pass
    assert lines == ['demo [1/2] train: started (last time 1.7 min)', 'demo [1/2] train: done in 50 s; 50 s so far, about 5.0 min left (1 stage)']
    other = StageClock('demo', ['train', 'cam'], key='full/nuclei/cuda', timings=f, say=lambda m: None)
    assert other.estimate(['cam']) is None           # timings of another preset/device are not used

def test_a_failing_stage_says_nothing_and_saves_nothing(tmp_path):
    f, lines = tmp_path / 'timings.json', []
    sc = StageClock('demo', ['a'], timings=f, say=lines.append)
    with pytest.raises(ZeroDivisionError):
        with sc.stage('a'): 1 / 0
    assert lines == ['demo [1/1] a: started'] and not f.exists()

def test_sphinx_progress_on_a_real_build(tmp_path):
    src = tmp_path / 'src'; src.mkdir()
    (src / 'conf.py').write_text("project = 'x'\n")
    for i in range(8): (src / f'p{i}.rst').write_text(f"P{i}\n==\n\ntext\n")
    (src / 'index.rst').write_text("Idx\n===\n\n.. toctree::\n\n" + ''.join(f"   p{i}\n" for i in range(8)))
    lines = []
    code, out, err = _run_lines([sys.executable, '-m', 'sphinx', '-b', 'html', '-E', str(src), str(tmp_path / 'html')], tmp_path,
                                SphinxProgress(say=lines.append))
    assert code == 0 and (tmp_path / 'html' / 'index.html').exists()
    assert any(l.startswith('docs: sphinx reading sources 100% (') for l in lines), lines
    assert any(l.startswith('docs: sphinx writing output 100% (') for l in lines), lines
    assert 2 <= sum('reading sources' in l for l in lines) <= 4 and all('%' in l for l in lines)

def test_fmt_duration():
    assert [fmt_duration(s) for s in (5, 89, 90, 5399, 5400)] == ['5 s', '89 s', '1.5 min', '90.0 min', '1.5 h']
