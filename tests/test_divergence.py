"""Divergence: a non-finite training loss stops the run (`Diverged`), the run's state is `diverged`, the report says so
on top, and `segkit` exits with code 3."""
import inspect, json, os, subprocess, sys
import numpy as np
import pytest
import segkit.cli
import segkit.experiments as ex
from segkit.learner import Diverged, DivergenceCheck, make_learner, seg_dls
from segkit.core import synth_shapes
from segkit.models.unet import UNet
from fastai.losses import CrossEntropyLossFlat
from fastai.callback.core import Callback
from conftest import ROOT

TINY = dict(source='synthetic_blobs', epochs=2, n=16, size=32, base=4, depth=2, steps=(), device='cpu')

def test_learner_stops_at_first_nonfinite_loss():
    s = synth_shapes(8, 32, seed=0)
    dls = seg_dls((s.images[:6], s.masks[:6]), (s.images[6:], s.masks[6:]), bs=2, device='cpu')
    learn = make_learner(dls, lambda n: UNet(n, 4, depth=2, base=4), CrossEntropyLossFlat(axis=1), keep_best=None)
    seen = []
    class Spy(Callback):
        order = -1   # before the check
        def after_loss(self):
            if self.training: seen.append(float(self.learn.loss))
    learn.add_cb(Spy())
    with learn.no_bar(), learn.no_logging(), pytest.raises(Diverged) as e: learn.fit(3, 1e9)
    d = e.value
    assert not np.isfinite(seen[-1]) and all(np.isfinite(seen[:-1]))      # stopped at the first non-finite loss
    assert (d.epoch - 1) * 3 + d.batch == len(seen) and d.n_batches == 3
    assert str(d).startswith('training diverged: loss') and '\n' not in str(d) and d.exit_code == 3

def test_diverged_run(tmp_path):
    with pytest.raises(Diverged) as e: ex.run_recipe('demo', out=tmp_path, lr=1e9, verbose=False, **TINY)
    (run,) = tmp_path.iterdir()
    st = ex.Run.open(run).status
    assert st['state'] == 'diverged' and st['diverged']['epoch'] == e.value.epoch and st['diverged']['batch'] == e.value.batch
    assert 'training diverged' in st['error']
    top = (run / 'report.md').read_text().splitlines()[0]
    assert top.startswith('> **DIVERGED: training diverged: ') and 'No result of this run is valid' in top
    assert not (run / 'metrics.csv').exists() and not (run / 'run.lock').exists()
    assert ex.run_exit_code(e.value) == 3

@pytest.mark.skipif("exit_code" not in inspect.getsource(segkit.cli.main), reason="needs the merge edit of `segkit.cli.main` (exit codes from `run_exit_code`)")
def test_cli_exits_3_on_divergence(tmp_path):
    cmd = [sys.executable, '-W', 'ignore', '-c', 'import sys; from segkit.cli import main; sys.exit(main())',
           'run', 'demo', '--source', 'synthetic_blobs', '--set', "lr=1e9,epochs=2,n=16,size=32,base=4,depth=2,steps=[]"]
    res = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, env={**os.environ, 'CUDA_VISIBLE_DEVICES': ''})
    assert res.returncode == 3, res.stderr[-2000:]
    assert 'training diverged' in res.stderr and 'Traceback' not in res.stderr
    (run,) = (tmp_path / 'runs').iterdir()
    assert json.loads((run / 'status.json').read_text())['state'] == 'diverged'
