"""Issue 15 item 3: a run stopped after epoch 1 and resumed ends byte for byte where the uninterrupted run ends; resumes are
recorded in `status.json` and the report; `--set` on resume is refused unless the option is harmless."""
import json
import pytest
import torch
import segkit.learner as L
import segkit.recipes.demo as demo_mod
from segkit.experiments import run_recipe, Run
from segkit.cli import main

KW = dict(source='synthetic_blobs', epochs=3, n=16, size=32, crop=24, epoch_len=16, depth=1, base=4, bs=4, steps=[], device='cpu',
          verbose=False)

def _interrupted(monkeypatch, out):
    "A demo run whose process gets Ctrl-C right after epoch 1's checkpoint."
    orig = L.EpochCheckpoint.after_epoch
    def stop_after_first(self):
        orig(self)
        if getattr(self, 'trained', False) and self.epoch == 0: raise KeyboardInterrupt
    monkeypatch.setattr(L.EpochCheckpoint, 'after_epoch', stop_after_first)
    with pytest.raises(KeyboardInterrupt): run_recipe('demo', out=out, **KW)
    monkeypatch.setattr(L.EpochCheckpoint, 'after_epoch', orig)
    (path,) = list(out.iterdir())
    assert Run.open(path).status['state'] == 'incomplete'
    assert torch.load(path / 'checkpoints' / 'last.pth', weights_only=True)['epoch'] == 0
    return path

def _weights(path): return torch.load(path / 'checkpoints' / 'last.pth', weights_only=True)['model']

def _history(path): return L.read_history(path / 'history.csv').drop(columns='time')

@pytest.fixture(scope='module')
def straight(tmp_path_factory):
    return run_recipe('demo', out=tmp_path_factory.mktemp('straight'), **KW).path

def test_resume_is_byte_identical(straight, tmp_path, monkeypatch):
    path = _interrupted(monkeypatch, tmp_path)
    run = run_recipe('demo', resume=path, verbose=False)
    assert run.status['state'] == 'complete'
    assert (path / 'metrics.csv').read_bytes() == (straight / 'metrics.csv').read_bytes()
    assert (path / 'per_image.csv').read_bytes() == (straight / 'per_image.csv').read_bytes()
    a, b = _weights(straight), _weights(path)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert _history(path).equals(_history(straight))
    (r,) = run.resumes
    assert r['after_epoch'] == 1 and r['rng_restored'] is True and r['finished_steps'] == []
    assert 'Resumed 1×' in (path / 'report.md').read_text() and 'equal those of an uninterrupted run' in (path / 'report.md').read_text()

def test_without_the_random_state_the_resume_differs(straight, tmp_path, monkeypatch):
    "The control: the same resume without restoring the generators does not reproduce the run (so the test above can fail)."
    path = _interrupted(monkeypatch, tmp_path)
    monkeypatch.setattr(demo_mod, 'resume_from', lambda learn, ck: L.resume_from(learn, ck, rng=False))
    run = run_recipe('demo', resume=path, verbose=False)
    a, b = _weights(straight), _weights(path)
    assert not all(torch.equal(a[k], b[k]) for k in a)
    assert run.resumes[0]['rng_restored'] is False and 'may differ' in (path / 'report.md').read_text()

def test_old_checkpoint_without_rng_warns(tmp_path, monkeypatch):
    path = _interrupted(monkeypatch, tmp_path)
    ck = torch.load(path / 'checkpoints' / 'last.pth', weights_only=True); ck.pop('rng')
    torch.save(ck, path / 'checkpoints' / 'last.pth')
    with pytest.warns(UserWarning, match="holds no random-generator state"): run_recipe('demo', resume=path, verbose=False)

def test_set_on_resume_is_refused_unless_harmless(tmp_path, monkeypatch, capsys):
    path = _interrupted(monkeypatch, tmp_path)
    with pytest.raises(ValueError, match=r"`resume`: epochs=5 \(saved: 3\) would change the run being resumed; only device may change"):
        run_recipe('demo', resume=path, verbose=False, epochs=5)
    assert main(['run', 'demo', '--resume', str(path), '--set', 'epochs=5,lr=0.1']) == 2
    err = capsys.readouterr().err
    assert "epochs=5 (saved: 3), lr=0.1 (saved: 0.003) would change the run" in err and err.count('\n') == 1
    assert main(['run', 'demo', '--resume', str(path), '--seed', '4']) == 2
    assert "seed=4 (saved: 0)" in capsys.readouterr().err
    assert main(['run', 'demo', '--resume', str(path), '--set', 'epochs=3', '--device', 'cpu']) == 0   # unchanged / harmless
    st = json.loads((path / 'status.json').read_text())
    assert st['state'] == 'complete' and st['resumes'][-1]['changed'] == {}
