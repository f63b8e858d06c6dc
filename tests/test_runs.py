"""End to end: `segkit run` writes a complete run folder; bad input exits 2 with the choices; interrupted runs resume."""
import json, os, subprocess, sys
from pathlib import Path
import pandas as pd
import pytest
from fastai.callback.core import Callback
import segkit.experiments as ex
import segkit.recipes.demo as demo_mod
from segkit.learner import read_history
from conftest import ROOT

SEGKIT = [sys.executable, '-W', 'ignore', '-c', 'import sys; from segkit.cli import main; sys.exit(main())']
TINY = "epochs=2,n=16,size=32,base=4,depth=2,steps=['coheg']"

def cli(*args, cwd):
    return subprocess.run(SEGKIT + list(args), capture_output=True, text=True, cwd=cwd, env={**os.environ, 'CUDA_VISIBLE_DEVICES': ''})

def test_cli_run_writes_everything(tmp_path):
    res = cli('run', 'demo', '--source', 'synthetic_blobs', '--set', TINY, '--out', 'runs', cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-2000:]
    (run,) = (tmp_path / 'runs').iterdir()
    assert run.name.startswith('demo-')
    for f in ('config.json', 'status.json', 'metrics.csv', 'report.md', 'history.csv', 'per_image.csv',
              'figures/data.png', 'figures/training.png', 'figures/predictions.png', 'checkpoints/last.pth'):
        assert (run / f).exists(), f
    assert json.loads((run / 'status.json').read_text())['state'] == 'complete'
    cfg = json.loads((run / 'config.json').read_text())
    assert cfg['epochs'] == 2 and cfg['env']['device'] == 'cpu' and cfg['steps'] == ['coheg'] and cfg['preset'] == 'quick'
    m = pd.read_csv(run / 'metrics.csv')
    assert set(m.split) == {'valid', 'test'} and m.value.between(0, 1).all()
    assert 'dice_fg (mean per image)' in res.stdout                  # the summary table is printed
    assert '](figures/predictions.png)' in (run / 'report.md').read_text()
    # a second run never touches the first
    before = (run / 'metrics.csv').read_bytes()
    assert cli('run', 'demo', '--source', 'synthetic_blobs', '--set', TINY, '--out', 'runs', cwd=tmp_path).returncode == 0
    assert len(list((tmp_path / 'runs').iterdir())) == 2 and (run / 'metrics.csv').read_bytes() == before

@pytest.mark.parametrize('args, msg', [
    (['run', 'nope'], "unknown recipe 'nope'; known: archselect, cam-mounds, cam-nuclei"),
    (['run', 'demo', '--set', 'epoks=3'], "unknown option 'epoks' for recipe 'demo'; valid: source, path, seed, device, epochs"),
    (['run', 'demo', '--set', 'epochs'], '--set: expected key=value'),
    (['run', 'demo', '--set', 'epochs=many'], "option 'epochs': expected int, got 'many'"),
    (['run', 'coheg-ablation', '--set', 'losses=llambda,dice'], "unknown value for 'losses' 'dice' for recipe 'coheg-ablation'; valid: llambda"),
    (['demo', '--steps', 'coheg,nope'], "unknown value for 'steps' 'nope' for recipe 'demo'; valid: cam, coheg, fewshot, im, instances, noise, pretext"),
    (['run', 'demo', '--source', 'mars'], "unknown source 'mars'; known: cells3d_nuclei, dem, dsb2018_sample"),
    (['run', 'demo', '--resume', 'nowhere'], 'not a segkit run folder'),
    (['explode'], 'choose from: demo, run, list, data, docs'),
    (['data', 'nope'], "unknown source 'nope'; known: cells3d_nuclei"),
])
def test_bad_input_exits_2(tmp_path, args, msg):
    res = cli(*args, cwd=tmp_path)
    assert res.returncode == 2, (res.returncode, res.stderr[-1500:])
    assert msg in res.stderr
    assert not (tmp_path / 'runs').exists() or not any((tmp_path / 'runs').iterdir())

def test_list_and_data(tmp_path):
    res = cli('list', cwd=tmp_path); assert res.returncode == 0 and 'demo' in res.stdout
    res = cli('data', cwd=tmp_path); assert res.returncode == 0 and 'synthetic_shapes' in res.stdout
    res = cli('data', 'synthetic_shapes', cwd=tmp_path)
    assert res.returncode == 0 and 'semantic' in res.stdout and 'train' in res.stdout

class _Interrupt(Callback):
    "Simulate Ctrl-C once the second epoch is fully written (history and checkpoint)."
    order = 100
    def after_epoch(self):
        if self.epoch == 1: raise KeyboardInterrupt

def test_interrupted_run_resumes(tmp_path, monkeypatch):
    orig = demo_mod.seg_learner
    monkeypatch.setattr(demo_mod, 'seg_learner', lambda *a, **k: orig(*a, **k).add_cb(_Interrupt()))
    kw = dict(source='synthetic_blobs', out=tmp_path, epochs=4, n=16, size=32, base=4, depth=2, device='cpu', verbose=False)
    with pytest.raises(KeyboardInterrupt): ex.run_recipe('demo', **kw)
    (run,) = tmp_path.iterdir()
    st = json.loads((run / 'status.json').read_text())
    assert st['state'] == 'incomplete' and 'KeyboardInterrupt' in st['error']
    assert (run / 'checkpoints' / 'last.pth').exists() and not (run / 'metrics.csv').exists()
    assert len(read_history(run / 'history.csv')) == 2                # finished epochs are kept
    monkeypatch.setattr(demo_mod, 'seg_learner', orig)
    r = ex.run_recipe('demo', resume=run, verbose=False)
    assert r.path == run and r.status['state'] == 'complete'
    hist = read_history(run / 'history.csv')
    assert list(hist.epoch) == [0, 1, 2, 3]                           # continued, not restarted
    assert (run / 'metrics.csv').exists()
    assert ex.run_recipe('demo', resume=run, verbose=False).path == run   # a complete run is left alone

def test_demo_on_real_nuclei(tmp_path):
    "The default demo source is the real nuclei set: a tiny run on it goes end to end (fetches the data once)."
    run = ex.run_recipe('demo', out=tmp_path, epochs=1, epoch_len=16, crop=64, base=4, depth=2, device='cpu', verbose=False)
    assert run.config['source'] is None and run.status['state'] == 'complete'
    assert 'segkit demo — nuclei' in (run.path / 'report.md').read_text()
    per_image = pd.read_csv(run.path / 'per_image.csv')
    assert (per_image.split == 'test').sum() == 15 and (per_image.split == 'valid').sum() == 3
    data = pd.read_csv(run.path / 'data.csv')
    assert len(data) == 48 and set(data.dtype) == {'uint8', 'uint16'}
