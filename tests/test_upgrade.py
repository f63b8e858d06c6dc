"""segkit.pseudo.upgrade: threshold baseline vs a brute-force loop, cost model, slice sampler, u_θ data and bad input (issue 18)."""
import numpy as np
import pytest
import torch
from segkit.core import synth_blobs
from segkit.models.unet import UNet
from segkit.pseudo.upgrade import (UpgradeDataset, upgrade_dls, upgrade_learner, upgrade, threshold_baseline, apply_threshold, pooled_dice,
                                   annotation_cost, equidistant_slices, upgrade_framework, TrainOpts, make_net, ImageAug)

def _loop(images, labels, grid):
    "The brute-force reference: one pass over the data per threshold."
    best = (-1, None)
    for t in grid:
        tp = fp = fn = 0
        for im, l in zip(images, labels):
            p, g = np.asarray(im) >= t, np.asarray(l) > 0
            tp += (p & g).sum(); fp += (p & ~g).sum(); fn += (~p & g).sum()
        d = 2 * tp / (2 * tp + fp + fn) if (2 * tp + fp + fn) else 1.
        if d > best[0]: best = (d, t)
    return best

@pytest.mark.parametrize('seed', [0, 1, 2])
def test_threshold_baseline_equals_brute_force(seed):
    bl = synth_blobs(5, 48, seed=seed)
    fit = threshold_baseline(bl.images, bl.masks)
    d, t = _loop(bl.images, bl.masks, fit.grid)
    assert fit.threshold == t and abs(fit.dice - d) < 1e-12
    assert abs(pooled_dice(apply_threshold(bl.images, fit.threshold), bl.masks) - fit.dice) < 1e-12

def test_cost_and_sampler():
    assert annotation_cost(10, 90) == 140 and annotation_cost(0, 100, k=3) == 100
    assert equidistant_slices([50] * 5, 5) == [(0, 4), (1, 14), (2, 24), (3, 34), (4, 44)]
    s = equidistant_slices([60], 6)
    assert [z for _, z in s] == [4, 14, 24, 34, 44, 54] and len(set(equidistant_slices([10, 7], 10))) == 10

def test_upgrade_dataset_online_differs_per_epoch_and_is_seeded():
    bl = synth_blobs(4, 48, seed=0)
    def draws(seed):
        d = UpgradeDataset(bl.images, bl.masks, 'om50+inc50+bias6', other=[np.zeros_like(m) for m in bl.masks], seed=seed)
        out = []
        for e in range(2): d.set_epoch(e); out.append(d[0][0][1].numpy())
        return out
    a, b = draws(0), draws(0)
    assert all((x == y).all() for x, y in zip(a, b)) and (a[0] != a[1]).any()
    x, y = UpgradeDataset(bl.images, bl.masks, 'om70')[1]
    assert x.shape == (2, 48, 48) and (y.numpy() == (bl.masks[1] > 0)).all()

def test_upgrade_learner_checks_channels_and_upgrade_returns_binary_maps():
    bl = synth_blobs(5, 32, seed=1)
    dls = upgrade_dls(UpgradeDataset(bl.images[:3], bl.masks[:3], 'om70', crop=32), bl.images[3:], bl.masks[3:], bs=2, device='cpu')
    with pytest.raises(ValueError, match='expected C \\+ 1 = 3'): upgrade_learner(dls, 2, depth=2, base=4)
    learn = upgrade_learner(dls, 1, depth=2, base=4)
    out = upgrade(learn.model, bl.images[3:], [(m > 0).astype(np.uint8) for m in bl.masks[3:]])
    assert all(o.shape == m.shape and o.dtype == np.uint8 and o.max() <= 1 for o, m in zip(out, bl.masks[3:]))

def test_image_aug_jitters_only_image_channels_of_training_batches():
    "u_θ's `aug`: each training image becomes a·x + b (one gain and shift per item); the label channel and validation stay as they are."
    bl = synth_blobs(5, 32, seed=1)
    dls = upgrade_dls(UpgradeDataset(bl.images[:3], bl.masks[:3], 'om70', crop=32), bl.images[3:], bl.masks[3:], bs=3, device='cpu')
    learn = upgrade_learner(dls, 1, depth=2, base=4, aug='intensity', seed=0)
    cb = next(c for c in learn.cbs if isinstance(c, ImageAug))
    x = torch.rand(3, 2, 32, 32); x[:, 1] = (x[:, 1] > 0.5).float()
    def run(training):
        learn.xb, learn.training = (x.clone(),), training
        cb.before_batch(); return learn.xb[0]
    out = run(True)
    assert torch.equal(out[:, 1], x[:, 1]) and not torch.allclose(out[:, 0], x[:, 0])
    for i in range(3):                                                    # exactly affine per item, within the preset's ranges
        A = torch.stack([x[i, 0].flatten(), torch.ones(32 * 32)], 1)
        a, b = torch.linalg.lstsq(A, out[i, 0].flatten()[:, None]).solution[:, 0]
        assert 0.6 - 1e-4 <= a <= 1.4 + 1e-4 and -0.05 - 1e-4 <= b <= 0.1 + 1e-4
        assert torch.allclose(A @ torch.stack([a, b]), out[i, 0].flatten(), atol=1e-4)
    assert torch.equal(run(False), x)                                     # validation batches untouched
    assert not any(isinstance(c, ImageAug) for c in upgrade_learner(dls, 1, depth=2, base=4).cbs)   # None: the thesis, no jitter
    with pytest.raises(ValueError, match="moves pixels"): upgrade_learner(dls, 1, depth=2, base=4, aug='microscopy')

@pytest.mark.parametrize('make,msg', [
    (lambda: annotation_cost(1, 1, k=0), '`k`: expected a positive cost ratio'),
    (lambda: annotation_cost(1, 1, k=-2), '`k`: expected a positive cost ratio'),
    (lambda: UpgradeDataset([], [], 'om70'), 'the HQ set is empty'),
    (lambda: upgrade(UNet(2, 2, depth=1, base=2), [np.zeros((8, 8))], [np.full((8, 8), 3)]), 'expected a binary (0/1) LQ label'),
    (lambda: upgrade(UNet(2, 2, depth=1, base=2), [np.zeros((8, 8))], [np.zeros((8, 9), int)]), 'differs from its image'),
    (lambda: upgrade(UNet(3, 2, depth=1, base=2), [np.zeros((8, 8))], [np.zeros((8, 8), int)]), 'expects 3 input channels'),
    (lambda: threshold_baseline([], []), 'empty set'),
    (lambda: equidistant_slices([10], 0), '`n`: expected ≥ 1'),
    (lambda: make_net('vgg16', 1), '`net`: expected one of'),
    (lambda: upgrade_framework(([], []), ([], [], None), ([], []), ([], [])), 'the HQ set is empty'),
    (lambda: upgrade_framework(([np.zeros((8, 8))], [np.zeros((8, 8), int)]), ([np.zeros((8, 8))], [np.full((8, 8), 2)], None), ([], []), ([], [])),
     'expected a binary (0/1) LQ label'),
    (lambda: upgrade_framework(([np.zeros((8, 8))], [np.zeros((8, 8), int)]), ([], [], None), ([], []), ([], []), regimes=('hq', 'oracle')), 'unknown'),
])
def test_bad_input(make, msg):
    with pytest.raises(ValueError) as e: make()
    assert msg in str(e.value)

def test_upgrade_pipeline_with_instance_ops_on_binary_labels_points_to_mode():
    from segkit.labels.noise import perturb
    with pytest.raises(ValueError, match='already-binary'): perturb(np.ones((8, 8), int), 'om70', level='binary')

def test_pseudo_upgrade_never_imports_recipes():
    import subprocess, sys
    from conftest import ROOT
    code = "import sys, segkit.pseudo.upgrade; print([m for m in sys.modules if m.startswith(('segkit.recipes', 'segkit.widgets', 'segkit.experiments'))])"
    assert subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, cwd=ROOT).stdout.strip() == '[]'
