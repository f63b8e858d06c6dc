"""`Run.fit_or_load`: trains once per run (a resumable step with its weights), loads when the step finished, one clear line for damaged weights."""
import contextlib, types
import pytest, torch
from segkit.experiments import Run, run_exit_code

class FakeLearner:
    "The parts of a fastai `Learner` that `fit_or_load` uses; `fit` sets every weight to `lr` and records fastai-like rows."
    def __init__(self):
        self.model, self.fits = torch.nn.Linear(3, 2), 0
        self.recorder = types.SimpleNamespace(values=[], metric_names=['epoch', 'train_loss', 'valid_loss', 'loss_mask', 'time'])
    def no_bar(self): return contextlib.nullcontext()
    def no_logging(self): return contextlib.nullcontext()
    def fit(self, epochs, lr):
        self.fits += 1
        with torch.no_grad():
            for p in self.model.parameters(): p.fill_(lr)
        self.recorder.values = [[2.0, 1 / (e + 1), 0.1 * e] for e in range(epochs)]

@pytest.fixture
def run(tmp_path): return Run.create('toy', {}, tmp_path)

def test_trains_when_no_checkpoint(run):
    a = FakeLearner()
    m = run.fit_or_load('net', a, 3, 0.25)
    assert a.fits == 1 and m is a.model and (run.path / 'checkpoints' / 'net.pth').exists()
    st = run.step('train-net', dict)
    assert st['valid_loss'] == pytest.approx([1, 0.5, 1 / 3]) and st['valid_metrics'] == {'loss_mask': pytest.approx([0, 0.1, 0.2])}
    assert st['seconds'] >= 0

def test_loads_instead_of_training_when_the_step_finished(run):
    run.fit_or_load('net', FakeLearner(), 2, 0.25)
    b = FakeLearner(); m = run.fit_or_load('net', b, 2, 0.25)
    assert b.fits == 0 and torch.all(m.weight == 0.25) and torch.all(m.bias == 0.25)

def test_custom_checkpoint_path(run, tmp_path):
    ck = tmp_path / 'elsewhere' / 'w.pth'
    run.fit_or_load('net', FakeLearner(), 1, 0.5, ck=ck)
    assert ck.exists() and not (run.path / 'checkpoints' / 'net.pth').exists()
    b = FakeLearner(); run.fit_or_load('net', b, 1, 0.5, ck=ck); assert b.fits == 0

def test_finished_step_without_weights_trains_again(run):
    run.fit_or_load('net', FakeLearner(), 1, 0.5)
    (run.path / 'checkpoints' / 'net.pth').unlink()
    b = FakeLearner(); m = run.fit_or_load('net', b, 1, 0.75)
    assert b.fits == 1 and torch.all(m.weight == 0.75) and (run.path / 'checkpoints' / 'net.pth').exists()

@pytest.mark.parametrize('damage', ['garbage', 'wrong_shape'])
def test_damaged_checkpoint_one_clear_line(run, damage):
    run.fit_or_load('net', FakeLearner(), 1, 0.5)
    ck = run.path / 'checkpoints' / 'net.pth'
    if damage == 'garbage': ck.write_bytes(b'\x00 not a torch file')
    else: torch.save(torch.nn.Linear(4, 2).state_dict(), ck)
    b = FakeLearner()
    with pytest.raises(RuntimeError) as e: run.fit_or_load('net', b, 1, 0.5)
    msg = str(e.value)
    assert '\n' not in msg and str(ck) in msg and 'train-net' in msg and 'delete it' in msg
    assert run_exit_code(e.value) == 2 and b.fits == 0
