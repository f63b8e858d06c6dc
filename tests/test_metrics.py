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
