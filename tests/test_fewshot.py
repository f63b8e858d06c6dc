"""segkit.fewshot: the issue's tests (perceptron quality, BFGS monotonicity and convergence report, scipy vs torch agreement,
conv head = σ(b + XW), seeded supports) and its bad inputs."""
import numpy as np
import pytest
import torch
from torch import nn
from segkit.fewshot import (train_extractor, FeatureStack, stack_features, draw_supports, support_pixels, fit_perceptron,
                            dice_objective, FewShotModel, predict_fewshot, pooled_dice, select_lambda, fewshot_summary)
from segkit.models.msd import MSD
from segkit.core import synth_shapes

def separable(seed=0, n=3000, c=8):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, c)) * rng.uniform(0.5, 5, c) + rng.normal(0, 5, c)
    z = (X - X.mean(0)) / X.std(0) @ rng.normal(size=c)
    keep = np.abs(z) > 0.3
    return X[keep], (z[keep] > 0).astype(float), np.repeat(np.arange(3), n // 3)[keep]

def overlapping(seed=0, n=4000, c=10):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, c)); y = (X[:, 0] + X[:, 1] + rng.normal(0, 1.5, n) > 1.0).astype(float)
    return X, y, np.repeat(np.arange(4), n // 4)

def test_separable_dice():
    X, y, idx = separable()
    p, info = fit_perceptron(X, y, idx, lam=1e-4)
    pred = p.predict_proba(X) > 0.5
    assert 2 * (pred * y).sum() / (pred.sum() + y.sum()) >= 0.99

@pytest.mark.parametrize('seed', [0, 1, 2])
def test_bfgs_monotone_and_reports(seed):
    X, y, idx = overlapping(seed)
    p, info = fit_perceptron(X, y, idx, lam=1e-3, optimizer='bfgs')
    assert info.objective <= info.objective_start
    assert info.converged == (info.grad_norm < 1e-5)
    # the reported objective is Eq. 4.2 at the returned weights
    Z = (X - p.mu.numpy()) / p.sd.numpy()
    th = torch.tensor(np.r_[p.w.numpy(), float(p.b)])
    f = dice_objective(th, torch.from_numpy(Z), torch.from_numpy(y), torch.from_numpy(idx.astype(np.int64)), 4, 1e-3).item()
    assert abs(f - info.objective) < 1e-9
    _, short = fit_perceptron(X, y, idx, lam=1e-3, optimizer='bfgs', maxiter=2)       # cut short: says so
    assert not short.converged and short.grad_norm >= 1e-5 and short.objective <= short.objective_start

def test_scipy_torch_agree():
    X, y, idx = overlapping(3)
    _, a = fit_perceptron(X, y, idx, lam=1e-3, optimizer='bfgs')
    _, b = fit_perceptron(X, y, idx, lam=1e-3, optimizer='lbfgs', device='cpu')
    assert abs(a.objective - b.objective) < 1e-3

def test_float32_design_fallback():
    X, y, idx = overlapping(4)
    _, a = fit_perceptron(X, y, idx, lam=1e-3)
    _, b = fit_perceptron(X, y, idx, lam=1e-3, max_bytes=1000)
    assert b.design.startswith('float32') and abs(a.objective - b.objective) < 1e-3

@pytest.fixture(scope='module')
def msd_stack():
    torch.manual_seed(0)
    exs = []
    for c, name in ((1, 'disk'), (2, 'square')):
        m = MSD(1, 2, depth=6, dilations=(1, 2, 3)).eval(); m.fewshot_class = name; exs.append(m)
    return FeatureStack(exs, target='triangle')

def test_head_equals_raw_perceptron(msd_stack):
    s = synth_shapes(4, 32, seed=1)
    feats = stack_features(msd_stack, list(s.images))
    masks = [(m == 3).astype(int) for m in s.masks]
    sup = [i for i in range(4) if masks[i].any()][:2]
    X, y, idx = support_pixels([feats[i] for i in sup], [masks[i] for i in sup])
    p, _ = fit_perceptron(X, y, idx, optimizer='logreg')
    W, b = p.raw()
    Xr = feats[0].reshape(len(W), -1).T.astype(np.float64)
    got = predict_fewshot(FewShotModel(msd_stack, p), [s.images[0]])[0].ravel()
    np.testing.assert_allclose(got, 1 / (1 + np.exp(-(Xr @ W + b))), atol=1e-4)
    np.testing.assert_allclose(got, p.predict_proba(Xr), atol=1e-4)

def test_same_seed_same_supports():
    masks = [np.eye(8, dtype=int) * (i % 3 > 0) for i in range(30)]
    a, b = draw_supports(masks, 5, 11), draw_supports(masks, 5, 11)
    assert np.array_equal(a, b) and all(masks[i].any() for i in a)
    assert not np.array_equal(draw_supports(masks, 5, 11, 0), draw_supports(masks, 5, 11, 1))

def test_train_extractor_tags_and_early_stops():
    s = synth_shapes(10, 32, seed=2)
    net = train_extractor(list(s.images), list(s.masks), 1, lambda n: MSD(n, 2, depth=4, dilations=(1, 2)), name='disk',
                          epochs=3, patience=1, seed=0)
    assert net.fewshot_class == 'disk' and not net.training and 1 <= net.epochs_run <= 3
    with pytest.raises(ValueError, match='would leak the target class'): FeatureStack([net], target='disk')

# bad input: one clear line naming the argument
def test_bad_inputs(msd_stack):
    masks = [np.zeros((8, 8), int) for _ in range(3)]; masks[0][2, 2] = 1
    with pytest.raises(ValueError, match='`k`: 2 shots asked for, but 1 of 3'): draw_supports(masks, 2)
    f = np.zeros((4, 8, 8), np.float32)
    with pytest.raises(ValueError, match='`masks\\[0\\]`: the support image has no target pixels'): support_pixels([f], [masks[1]])
    with pytest.raises(ValueError, match='`lam`: expected λ ≥ 0'): fit_perceptron(*separable()[:2], lam=-1e-3)
    with pytest.raises(ValueError, match='`feats\\[0\\]` and `masks\\[0\\]`'): support_pixels([f], [np.ones((8, 9), int)])
    with pytest.raises(ValueError, match='`extractors`: expected at least one'): FeatureStack([])
    with pytest.raises(ValueError, match="extractor for 'square' would leak"): FeatureStack(list(msd_stack.extractors), target='square')
    with pytest.raises(TypeError, match='`extractors\\[0\\]`'): FeatureStack([nn.Conv2d(1, 1, 1)])
    with pytest.raises(ValueError, match='`optimizer`'): fit_perceptron(*separable()[:2], optimizer='sgd')

def test_select_lambda_and_summary():
    X, y, idx = overlapping(5)
    ep = [dict(X=X[:2000], y=y[:2000], idx=idx[:2000], Xq=X[2000:], yq=y[2000:])]
    lam, tab = select_lambda(ep, lams=(0., 1e-3, 100.), optimizer='logreg')
    assert lam != 100. and len(tab) == 3
    s = fewshot_summary(tab.assign(target='t', k=1))
    assert s['n'].tolist() == [3]
    assert 0 <= pooled_dice([np.ones(4)], [np.array([1, 1, 0, 0])]) == pytest.approx(2 * 2 / (4 + 2))

def test_logreg_reports_convergence():
    X, y, idx = overlapping(6)
    _, ok = fit_perceptron(X, y, idx, lam=1e-3, optimizer='logreg')
    assert ok.converged and 1 <= ok.lr_iter < 1000 and ok.n_iter == ok.lr_iter
    _, cut = fit_perceptron(X, y, idx, lam=1e-3, optimizer='logreg', lr_max_iter=1)
    assert not cut.converged and 'max_iter=1' in cut.message
    _, bf = fit_perceptron(X, y, idx, lam=1e-3, optimizer='bfgs')
    assert bf.lr_iter == ok.lr_iter                                   # the BFGS row names its warm start's iterations too
