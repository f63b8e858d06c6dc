"""The demo tour's console and report (issue 15, item 9): progress inside the long stages, epochs numbered alike on the
console and in the report, no empty plots, and timing estimates only from runs of the same size."""
import re
import numpy as np
import pandas as pd
import pytest
from segkit.experiments import run_recipe, cfg_from, StageClock
from segkit.recipes.demo import DemoCfg, timing_key, _history_fig

TINY = dict(source='synthetic_blobs', epochs=1, n=16, size=32, base=4, depth=2, crop=None, bs=4)

@pytest.fixture(scope='module')
def tiny_run(tmp_path_factory):
    "A one-epoch demo with the CoHeG step, its console captured (not a terminal: one line per epoch and per part)."
    import contextlib, io
    out, buf = tmp_path_factory.mktemp('runs'), io.StringIO()
    with contextlib.redirect_stdout(buf): run = run_recipe('demo', out=out, steps=['coheg'], coheg_rate=0.5, **TINY)
    return run, buf.getvalue()

def test_progress_inside_evaluation_and_the_coheg_step(tiny_run):
    run, console = tiny_run
    assert run.status['state'] == 'complete'
    assert re.search(r'^demo \[3/5\] evaluate: test batch 1/1 done$', console, re.M), console
    parts = re.findall(r'^demo \[4/5\] coheg: U-Net on (.+) \((\d)/3\) done in \d+ s(; about .+ left in this stage)?$', console, re.M)
    assert [p[1] for p in parts] == ['1', '2', '3'], console
    assert parts[0][2] and not parts[2][2], "an estimate after each part but the last"

def test_console_and_report_number_epochs_alike(tiny_run):
    run, console = tiny_run
    on_console = [int(e) for e in re.findall(r'^epoch (\d+)/1 ', console, re.M)]
    table = re.search(r'\| epoch \| train loss \| valid loss \|\n\|[-|: ]+\|\n((?:\|.*\n)+)', (run.path / 'report.md').read_text())
    in_report = [int(row.split('|')[1]) for row in table.group(1).strip().splitlines()]
    assert on_console == in_report == [1], (on_console, in_report)

def _coloured_pixels(png) -> int:
    "Pixels in colour (not white, grey or black): lines, markers, images with a colour map."
    import matplotlib.image as mpimg
    im = mpimg.imread(png)[..., :3].astype(float)
    return int(((im.max(-1) - im.min(-1)) > 0.25).sum())

def test_no_empty_plots(tiny_run):
    run, _ = tiny_run
    figs = sorted((run.path / 'figures').glob('*.png'))
    assert {f.stem for f in figs} >= {'data', 'training', 'predictions'}
    for f in figs: assert _coloured_pixels(f) > 200, f"{f.name} looks empty"
    # the one-epoch training curve has markers on its single point: without them (a plain line) the plot is empty
    hist = pd.read_csv(run.path / 'history.csv')
    assert len(hist) == 1 and all(l.get_marker() == 'o' for ax in _history_fig(hist).axes for l in ax.get_lines())
    import matplotlib; matplotlib.use('Agg'); import matplotlib.pyplot as plt
    fig, ax = plt.subplots(); ax.plot([1], [0.5], '-'); fig.savefig(run.path / 'line.png'); plt.close(fig)
    assert _coloured_pixels(run.path / 'line.png') < 50, "the check can fail: a one-point line without markers is empty"

def test_timing_key_separates_run_sizes():
    quick = cfg_from(DemoCfg, 'quick', {})
    tiny = cfg_from(DemoCfg, 'quick', dict(epochs=1, epoch_len=16))
    assert timing_key(quick, 'nuclei') == timing_key(cfg_from(DemoCfg, 'quick', {}), 'nuclei')
    assert timing_key(quick, 'nuclei') != timing_key(tiny, 'nuclei')
    assert timing_key(quick, 'nuclei') != timing_key(cfg_from(DemoCfg, 'quick', dict(cam={'epochs': 1})), 'nuclei')
    small, large = [np.zeros((32, 32))] * 4, [np.zeros((64, 64))] * 4
    assert timing_key(quick, 'folder', small) != timing_key(quick, 'folder', large)

def test_a_tiny_run_does_not_spoil_the_estimates_of_a_real_one(tmp_path):
    f = tmp_path / 'timings.json'
    keys = {n: timing_key(cfg_from(DemoCfg, 'quick', kw), 'nuclei') for n, kw in (('real', {}), ('tiny', dict(epochs=1, epoch_len=8)))}
    ticks = iter(range(0, 100, 2))
    tiny = StageClock('demo', ['coheg'], key=keys['tiny'], timings=f, say=lambda m: None, clock=lambda: next(ticks))
    with tiny.stage('coheg'): pass
    lines = []
    real = StageClock('demo', ['coheg'], key=keys['real'], timings=f, say=lines.append)
    assert real.estimate(['coheg']) is None and tiny.estimate(['coheg']) == 2
    with real.stage('coheg'): pass
    assert lines[0] == 'demo [1/1] coheg: started', "no 'last time' from the tiny run"
