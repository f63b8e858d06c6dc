"""`make_learner` and its callbacks: AMP rule, device, channels-last, one `KeepBest` (memory / file / start epoch,
inert outside `fit`), `EarlyStop`, and the site-classifier preset and runner."""
import numpy as np
import pytest
import torch
from torch import nn
from fastai.callback.core import Callback
from fastai.callback.fp16 import MixedPrecision
from fastai.data.core import DataLoaders
from fastai.data.load import DataLoader
from segkit.learner import (make_learner, amp_callback, dls_device, dls_channels, KeepBest, EarlyStop, EpochCheckpoint,
                            site_learner, train_site_classifiers, SiteLoss)

BIAS = [3., 1., 2., 5., 6.]          # the validation loss of epoch e is BIAS[e]²: best is epoch 1, best from epoch 2 on is epoch 2

class _SetBias(Callback):
    "Put known weights in place before each validation (lr=0: training changes nothing)."
    def before_validate(self):
        with torch.no_grad(): self.model.weight.zero_(); self.model.bias.fill_(BIAS[self.epoch])

def _sq_mean(out, y): return out.float().mean() ** 2

def _dls(n_in=1):
    xs, ys = torch.rand(8, n_in, 4, 4), torch.zeros(8, 4, 4, dtype=torch.long)
    return DataLoaders(DataLoader(list(zip(xs, ys)), bs=4, shuffle=True), DataLoader(list(zip(xs, ys)), bs=4), device='cpu')

def _learner(tmp_path=None, **kw):
    return make_learner(_dls(), nn.Conv2d(1, 1, 1), _sq_mean, cbs=[_SetBias()], **kw)

def _fit(learn, n):
    with learn.no_bar(), learn.no_logging(): learn.fit(n, lr=0.)

def _kb(learn): return next(c for c in learn.cbs if isinstance(c, KeepBest))

def test_amp_off_on_cpu_and_bf16_rule(monkeypatch):
    learn = make_learner(_dls(), nn.Conv2d(1, 2, 1), nn.CrossEntropyLoss())
    assert not any(isinstance(c, MixedPrecision) for c in learn.cbs) and dls_device(learn.dls).type == 'cpu'
    assert any(isinstance(c, MixedPrecision) for c in make_learner(_dls(), nn.Conv2d(1, 2, 1), nn.CrossEntropyLoss(), amp=True).cbs)
    monkeypatch.setattr(torch.cuda, 'is_bf16_supported', lambda *a, **k: True)
    assert amp_callback('auto', 'cuda').amp_mode.value == 'bf16'
    monkeypatch.setattr(torch.cuda, 'is_bf16_supported', lambda *a, **k: False)
    assert amp_callback('auto', 'cuda').amp_mode.value == 'fp16'
    assert amp_callback('auto', 'cpu') is None and amp_callback(False, 'cuda') is None
    with pytest.raises(ValueError, match='`amp`'): amp_callback('half')

def test_builder_gets_channels_from_the_batches():
    seen = []
    learn = make_learner(_dls(3), lambda n_in: seen.append(n_in) or nn.Conv2d(n_in, 2, 1), nn.CrossEntropyLoss(), keep_best=None)
    assert seen == [3] and learn.model.in_channels == 3 and dls_channels(_dls(2)) == 2

def test_keep_best_memory_restores_the_best_epoch():
    learn = _learner(); _fit(learn, 4)
    kb = _kb(learn)
    assert (kb.best, kb.best_epoch) == (1.0, 1) and learn.model.bias.item() == 1.0
    assert [v[1] for v in learn.recorder.values] == [b * b for b in BIAS[:4]]

def test_keep_best_file_and_start_epoch(tmp_path):
    learn = _learner(keep_best='file', ckpt_dir=tmp_path, start_epoch=2); _fit(learn, 4)
    assert _kb(learn).best_epoch == 2 and learn.model.bias.item() == 2.0
    assert (tmp_path / 'best.pth').exists() and (tmp_path / 'last.pth').exists()
    saved = torch.load(tmp_path / 'best.pth', weights_only=True)
    assert set(saved) == {'weight', 'bias'} and saved['bias'].item() == 2.0          # a plain state dict
    # without ckpt_dir: learn.path / learn.model_dir, as fastai's SaveModelCallback
    learn = make_learner(_dls(), nn.Conv2d(1, 1, 1), _sq_mean, cbs=[_SetBias(), KeepBest(where='file', fname='b')], keep_best=None,
                         path=tmp_path, model_dir='m')
    _fit(learn, 3)
    assert (tmp_path / 'm' / 'b.pth').exists() and learn.model.bias.item() == 1.0

def test_keep_best_inert_outside_fit():
    learn = _learner(early_stop=dict(patience=1))
    with learn.no_bar(): learn.validate()                          # fit events with an empty record: nothing saved or stopped
    kb = _kb(learn)
    assert kb.best_epoch is None and kb.state is None
    _fit(learn, 3)
    learn.remove_cbs([c for c in learn.cbs if isinstance(c, _SetBias)])
    learn.model.bias.data.fill_(7.)                                 # validate after fit restores nothing and keeps the record
    with learn.no_bar(): learn.validate(); learn.get_preds()
    assert (kb.best, kb.best_epoch) == (1.0, 1) and learn.model.bias.item() == 7.0

def test_early_stop_ends_the_fit_and_best_comes_back():
    learn = _learner(early_stop=dict(patience=1)); _fit(learn, 5)
    assert len(learn.recorder.values) == 3 and learn.model.bias.item() == 1.0   # epoch 2 is worse than epoch 1: stop
    learn = _learner(early_stop=dict(patience=2)); _fit(learn, 5)
    assert len(learn.recorder.values) == 4

def test_monitor_and_choices_are_checked():
    with pytest.raises(ValueError, match='`keep_best`'): _learner(keep_best='disk')
    with pytest.raises(ValueError, match='`where`'): KeepBest(where='disk')
    learn = _learner(monitor='dice')
    with pytest.raises(ValueError, match="'dice' is not recorded"): _fit(learn, 1)

def test_greater_is_better_for_metrics():
    kb = KeepBest('dice_mean')
    assert kb.comp is np.greater and KeepBest('valid_loss').comp is np.less and KeepBest('error_rate').comp is np.less

def test_channels_last_runs_on_cpu():
    xs, ys = torch.rand(8, 1, 16, 16), torch.randint(0, 2, (8, 16, 16))
    dls = DataLoaders(DataLoader(list(zip(xs, ys)), bs=4, shuffle=True), DataLoader(list(zip(xs, ys)), bs=4), device='cpu')
    net = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 2, 1))
    learn = make_learner(dls, net, nn.CrossEntropyLoss(), channels_last=True)
    assert learn.model[0].weight.is_contiguous(memory_format=torch.channels_last)
    with learn.no_bar(), learn.no_logging(): learn.fit(1, 1e-2)
    assert np.isfinite(learn.recorder.values[-1][:2]).all()

def test_site_learner_preset_and_runner():
    torch.manual_seed(0)
    xs = torch.rand(8, 1, 16, 16); ys = torch.tensor([0, 1] * 4)
    xs[ys == 1] += 1.0
    dls = DataLoaders(DataLoader(list(zip(xs, ys)), bs=4, shuffle=True), DataLoader(list(zip(xs, ys)), bs=8), device='cpu')
    learn = site_learner(dls, model=nn.Sequential(nn.Conv2d(1, 2, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten()), patience=None)
    assert isinstance(learn.loss_func, SiteLoss) and not any(isinstance(c, EarlyStop) for c in learn.cbs)
    assert learn.opt_func.__name__ == 'Adam' and learn.lr == 1e-4
    state = torch.random.get_rng_state()
    res = train_site_classifiers(lambda s: dls, archs=('resnet18',), seeds=(0, 1), epochs=1, patience=1, keep_models=True)
    assert torch.equal(state, torch.random.get_rng_state())          # the caller's RNG is untouched
    assert list(res.runs.columns) == ['arch', 'seed', 'precision', 'recall', 'tp', 'fp', 'fn', 'n_valid', 'epochs_run',
                                      'best_epoch', 'valid_loss']
    assert (res.runs.n_valid == 8).all() and set(res.models) == {('resnet18', 0), ('resnet18', 1)}
    assert res.table.index.tolist() == ['resnet18'] and res.table.n_seeds.tolist() == [2]
    with pytest.raises(KeyError, match='unknown architectures'): train_site_classifiers(lambda s: None, archs=('lenet',))
