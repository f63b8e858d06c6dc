"""Semantic metrics agree with scikit-learn's independent implementations."""
import numpy as np
import pytest
import torch
from sklearn.metrics import confusion_matrix as sk_cm, f1_score, jaccard_score
from segkit.metrics.semantic import confusion_matrix, batch_confusion, dice_from_confusion, iou_from_confusion, per_image_scores

@pytest.mark.parametrize('seed', range(4))
def test_against_sklearn(seed):
    rng = np.random.default_rng(seed)
    t = rng.integers(0, 4, (3, 20, 20)); p = np.where(rng.random(t.shape) < 0.7, t, rng.integers(0, 4, t.shape))
    cm = confusion_matrix(p, t, 4)
    assert np.array_equal(cm, sk_cm(t.ravel(), p.ravel(), labels=range(4)))
    np.testing.assert_allclose(dice_from_confusion(cm), f1_score(t.ravel(), p.ravel(), average=None, labels=range(4)))
    np.testing.assert_allclose(iou_from_confusion(cm), jaccard_score(t.ravel(), p.ravel(), average=None, labels=range(4)))
    bc = batch_confusion(p, t, 4)
    assert np.array_equal(bc.sum(0), cm)
    for i in range(3): assert np.array_equal(bc[i], sk_cm(t[i].ravel(), p[i].ravel(), labels=range(4)))

def test_torch_inputs_and_ignore_index():
    t = torch.tensor([[0, 1, 255], [1, 1, 0]]); p = torch.tensor([[0, 1, 1], [0, 1, 0]])
    cm = confusion_matrix(p, t, 2, ignore_index=255)
    assert cm.sum() == 5 and cm[1, 0] == 1
    bc = batch_confusion(p[None], t[None], 2, ignore_index=255)
    assert np.array_equal(bc[0], cm)

def test_perfect_and_empty():
    t = np.array([[[0, 1], [1, 0]]])
    s = per_image_scores(t, t, ('bg', 'fg'))
    assert s['dice_fg'].iloc[0] == 1 and s['iou_bg'].iloc[0] == 1
    z = np.zeros((1, 2, 2), int)
    s = per_image_scores(z, z, ('bg', 'fg'))
    assert np.isnan(s['dice_fg'].iloc[0])           # undefined, not silently 0 or 1

def test_bad_inputs():
    with pytest.raises(ValueError, match='differ in size'): confusion_matrix([0, 1], [0], 2)
    with pytest.raises(ValueError, match='expected codes'): batch_confusion(np.full((1, 2, 2), 5), np.zeros((1, 2, 2), int), 2)

def test_fastai_metrics_in_a_learner():
    from segkit.core import synth_blobs, to_foreground
    from segkit.learner import seg_dls, seg_learner
    from segkit.metrics.semantic import PooledSegMetric, PerImageSegMetric, micro_scores, pixel_accuracy_thesis, pixel_accuracy
    d = synth_blobs(12, 32, seed=0)
    fg = np.stack([to_foreground(m) for m in d.masks]).astype(np.int64)
    dls = seg_dls((d.images[:8], fg[:8]), (d.images[8:], fg[8:]), bs=4, device='cpu')
    learn = seg_learner(dls, 2, depth=1, base=4, metrics=[PooledSegMetric(2), PooledSegMetric(2, 'pixel_accuracy'), PerImageSegMetric(2)])
    with learn.no_bar(), learn.no_logging(): learn.fit(1)
    assert learn.recorder.metric_names[3:6] == ['dice_fg', 'pixel_accuracy', 'dice_fg_per_image']
    vals = learn.recorder.values[-1][2:]
    assert all(0 <= v <= 1 for v in vals)
    with pytest.raises(ValueError, match='unknown'): PooledSegMetric(2, 'f2')

def test_thesis_scores_against_definitions():
    from segkit.metrics.semantic import micro_scores, pixel_accuracy, pixel_accuracy_thesis
    rng = np.random.default_rng(3)
    t = rng.integers(0, 3, 500); p = np.where(rng.random(500) < 0.6, t, rng.integers(0, 3, 500))
    cm = confusion_matrix(p, t, 3)
    inter = sum(((p == c) & (t == c)).sum() for c in range(3)); union = sum(((p == c) | (t == c)).sum() for c in range(3))
    assert micro_scores(cm)['iou_micro'] == pytest.approx(inter / union)
    assert micro_scores(cm)['dsc_micro'] == pytest.approx(2 * inter / sum((p == c).sum() + (t == c).sum() for c in range(3)))
    assert pixel_accuracy(cm) == pytest.approx((p == t).mean())
    assert pixel_accuracy_thesis(cm) == pytest.approx(inter / union)   # Eq. 3.4 as printed equals the micro IoU

class _OldPresentDice:
    "The former `segkit.learner.PresentDice` (per-class sums of one-hot masks), kept here as the reference."
    def __init__(self, n, cls=None, score='dice'): self.n, self.cls, self.score = n, cls, score
    def reset(self): self.inter = self.psum = self.tsum = 0
    def accumulate(self, learn):
        y, m = learn.yb[0], learn.yb[1] if len(learn.yb) > 1 else None
        if y.ndim == 3: y = torch.nn.functional.one_hot(y.long(), self.n).permute(0, 3, 1, 2)
        p = torch.nn.functional.one_hot(learn.pred.argmax(1), self.n).permute(0, 3, 1, 2).float()
        w = (m if m is not None else torch.ones(y.shape[:2])).float()
        y = y.float()
        self.inter = self.inter + ((p * y).sum((2, 3)) * w).sum(0)
        self.psum = self.psum + (p.sum((2, 3)) * w).sum(0)
        self.tsum = self.tsum + (y.sum((2, 3)) * w).sum(0)
    @property
    def value(self):
        i, ps, ts = (np.asarray(v, np.float64) for v in (self.inter, self.psum, self.tsum))
        den = ps + ts if self.score == 'dice' else ps + ts - i
        with np.errstate(invalid='ignore', divide='ignore'): v = np.where(den > 0, (2 * i if self.score == 'dice' else i) / den, np.nan)
        if self.cls is not None: return float(v[self.cls])
        return float(np.nanmean(v[1:])) if np.isfinite(v[1:]).any() else float('nan')

@pytest.mark.parametrize('masks', [False, True])
@pytest.mark.parametrize('score', ['dice', 'iou'])
def test_present_dice_equals_the_former_implementation(masks, score):
    from types import SimpleNamespace
    from segkit.metrics.semantic import PresentDice
    n, rng = 4, torch.Generator().manual_seed(3)
    new = [PresentDice(n, c, score) for c in (None, 1, 2, 3)]; old = [_OldPresentDice(n, c, score) for c in (None, 1, 2, 3)]
    for d in new + old: d.reset()
    for b in range(3):                                                # a few batches, with sizes that differ
        lab = torch.randint(0, n, (2 + b, 8, 8), generator=rng)
        pred = torch.randn(2 + b, n, 8, 8, generator=rng)
        if masks:                                                     # (y, m): per-class masks, some classes not annotated
            m = (torch.rand(2 + b, n, generator=rng) < 0.6).float(); m[:, 0] = 1
            y = torch.nn.functional.one_hot(lab, n).permute(0, 3, 1, 2).float() * m[:, :, None, None]
            if b == 1: y[:, 0] = 0; m[:, 0] = 0                        # 'zero' background: pixels with no class at all
            yb = (y, m)
        else: yb = (lab,)
        for d in new + old: d.accumulate(SimpleNamespace(pred=pred, yb=yb))
    for a, b in zip(new, old): np.testing.assert_allclose(a.value, b.value, rtol=1e-12, equal_nan=True)
    assert np.isfinite(new[0].value)
