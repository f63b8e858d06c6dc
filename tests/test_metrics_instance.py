"""Instance metrics agree with scikit-image (ARand, VOI), with per-object brute-force references (matching, AJI,
AJI⁺, SEG, SBD) and with hand-worked examples."""
import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment
from skimage.metrics import adapted_rand_error, variation_of_information
from segkit.core import synth_blobs
from segkit.metrics.instance import contingency, matching, matching_sweep, aji, seg_score, sbd, dic, adapted_rand, voi, instance_scores

def _pairs(gt, pred):
    "Brute force: IoU and intersection of every gt/pred object pair, one mask comparison per pair."
    gi, pi = [i for i in np.unique(gt) if i], [j for j in np.unique(pred) if j]
    inter = np.array([[np.logical_and(gt == i, pred == j).sum() for j in pi] for i in gi], float).reshape(len(gi), len(pi))
    ga = np.array([(gt == i).sum() for i in gi], float); pa = np.array([(pred == j).sum() for j in pi], float)
    union = ga[:, None] + pa[None] - inter
    return inter, union, ga, pa

def _ref_matching(gt, pred, t):
    inter, union, *_ = _pairs(gt, pred)
    iou = np.where(union > 0, inter / np.maximum(union, 1), 0)
    a, b = linear_sum_assignment(-iou)
    return int((iou[a, b] >= t).sum()), iou[a, b][iou[a, b] >= t].sum()

def _ref_aji(gt, pred, plus):
    inter, union, ga, pa = _pairs(gt, pred)
    iou = np.where(union > 0, inter / np.maximum(union, 1), 0)
    if plus:
        a, b = linear_sum_assignment(-iou); ok = iou[a, b] > 0; a, b = a[ok], b[ok]
        return (inter[a, b].sum()) / (union[a, b].sum() + np.delete(ga, a).sum() + np.delete(pa, b).sum())
    C = U = 0.; used = set()
    for i in range(len(ga)):
        j = int(iou[i].argmax()) if iou.shape[1] else -1
        if j >= 0 and iou[i, j] > 0: C += inter[i, j]; U += union[i, j]; used.add(j)
        else: U += ga[i]
    return C / (U + sum(pa[j] for j in range(len(pa)) if j not in used))

def _pair(seed):
    rng = np.random.default_rng(seed)
    gt = synth_blobs(1, 64, n_objects=(4, 9), seed=seed).masks[0]
    pred = synth_blobs(1, 64, n_objects=(4, 9), seed=seed + 100).masks[0]
    pred = np.where(rng.random(gt.shape) < 0.5, np.where(gt > 0, gt + 20, 0), pred)   # partly right, partly wrong
    return gt, pred

@pytest.mark.parametrize('seed', range(5))
def test_arand_voi_equal_skimage(seed):
    rng = np.random.default_rng(seed)
    a, b = rng.integers(0, 7, (50, 60)), rng.integers(0, 11, (50, 60))
    err, prec, rec = adapted_rand_error(a, b)
    ours = adapted_rand(a, b)
    assert abs(ours['are'] - err) <= 1e-9
    # skimage's code divides its "precision" by ground-truth pairs, contrary to its docstring and to CREMI:
    # segkit follows the definition (precision over segmentation pairs), so the two are swapped
    assert abs(ours['precision'] - rec) <= 1e-9 and abs(ours['recall'] - prec) <= 1e-9
    v = voi(a, b)
    np.testing.assert_allclose([v['voi_split'], v['voi_merge']], variation_of_information(a, b), atol=1e-9)
    v0 = voi(a, b, ignore_gt_zero=True)
    np.testing.assert_allclose([v0['voi_split'], v0['voi_merge']], variation_of_information(a, b, ignore_labels=(0,)), atol=1e-9)
    e0 = adapted_rand(a, b, ignore_gt_zero=False)['are']
    assert abs(e0 - adapted_rand_error(a, b, ignore_labels=())[0]) <= 1e-9

@pytest.mark.parametrize('seed', range(6))
@pytest.mark.parametrize('t', [0.3, 0.5, 0.75])
def test_matching_equals_brute_force(seed, t):
    gt, pred = _pair(seed)
    m = matching(gt, pred, t)
    tp, s = _ref_matching(gt, pred, t)
    assert m['tp'] == tp
    if tp: assert abs(m['mean_matched_iou'] - s / tp) < 1e-9
    assert m['fp'] == len(np.unique(pred)) - 1 - tp and m['fn'] == len(np.unique(gt)) - 1 - tp

@pytest.mark.parametrize('seed', range(6))
def test_aji_equal_brute_force(seed):
    gt, pred = _pair(seed)
    assert abs(aji(gt, pred) - _ref_aji(gt, pred, False)) < 1e-12
    assert abs(aji(gt, pred, plus=True) - _ref_aji(gt, pred, True)) < 1e-12

def test_hand_worked_examples():
    gt = np.zeros((6, 8), int); gt[1:5, 1:4] = 1; gt[1:5, 4:7] = 2
    merged = np.where(gt > 0, 9, 0)
    assert aji(gt, merged) == pytest.approx(0.5) and aji(gt, merged, plus=True) == pytest.approx(1 / 3)
    m = matching(gt, merged, 0.5)
    assert (m['tp'], m['fp'], m['fn']) == (1, 0, 1)       # IoU 12/24 = 0.5 exactly, and a match needs IoU ≥ τ (StarDist)
    assert matching(gt, merged, 0.51)['tp'] == 0
    assert matching(gt, gt, 0.5)['panoptic_quality'] == 1 and aji(gt, gt) == 1 and seg_score(gt, gt) == 1 and sbd(gt, gt) == 1
    assert seg_score(gt, merged) == pytest.approx(0.5)    # each gt covered fully by the merged object: IoU 12/24
    assert dic(gt, merged) == 1

def test_sweep_and_scores_table():
    gt, pred = _pair(1)
    sw = matching_sweep(gt, pred)
    assert list(sw.index) == [0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95]
    assert (np.diff(sw.tp.to_numpy()) <= 0).all()          # more demanding thresholds never match more
    s = instance_scores(gt, pred)
    assert set(s) >= {'f1', 'ap_stardist', 'panoptic_quality', 'aji', 'aji_plus', 'seg', 'sbd', 'dic', 'are', 'voi'}

def test_bad_inputs():
    g = np.zeros((4, 4), int)
    with pytest.raises(ValueError, match='shapes differ'): contingency(g, np.zeros((4, 5), int))
    with pytest.raises(ValueError, match='`pred`: expected integer instance labels'): contingency(g, np.zeros((4, 4)))
    with pytest.raises(ValueError, match='`gt`: expected non-negative'): contingency(g - 1, g)
    ct = contingency(np.zeros((0,), int), np.zeros((0,), int))     # a zero-pixel image has no objects (no error)
    assert (ct.n_gt, ct.n_pred, len(ct.counts)) == (0, 0, 0)
    with pytest.raises(ValueError, match='`thresh`'): matching(g, g, 1.5)

def test_instance_metric_takes_a_callable_per_image():
    from types import SimpleNamespace
    import torch
    from skimage.measure import label
    from segkit.metrics.instance import InstanceMetric
    gt = synth_blobs(2, 48, n_objects=(5, 5), seed=7).masks
    logits = torch.stack([torch.from_numpy(gt == 0), torch.from_numpy(gt > 0)], 1).float() * 4 - 2
    seen = []
    def post(p):                                           # one image's class probabilities (C, H, W) in, labels out
        seen.append(p.shape); assert np.allclose(p.sum(0), 1)
        return label(p.argmax(0) > 0)
    m = InstanceMetric('aji_plus', post); m.reset(); m.accumulate(SimpleNamespace(pred=logits, y=torch.from_numpy(gt)))
    assert seen == [(2, 48, 48)] * 2 and m.name == 'aji_plus'
    assert m.value == pytest.approx(np.mean([instance_scores(t, label(t > 0))['aji_plus'] for t in gt]))
    with pytest.raises(TypeError, match='`postprocess`: expected a callable'): InstanceMetric('f1', 'components')
