"Mask-stack metrics (issue 22): `contingency_masks` equals the label-map table on non-overlapping data, hand-worked overlap cases, empty masks, bad input."
import numpy as np
import pytest
import torch
from skimage.draw import disk
from skimage.measure import label
from segkit.metrics.instance import (contingency, contingency_masks, label_stack, instance_scores, instance_scores_stack,
                                     aji, matching)

FIELDS = ('gt_ids', 'pred_ids', 'gt_area', 'pred_area', 'rows', 'cols', 'counts')
SCORES = ('tp', 'fp', 'fn', 'precision', 'recall', 'f1', 'ap_stardist', 'mean_matched_iou', 'panoptic_quality',
          'aji', 'aji_plus', 'seg', 'sbd', 'dic')

@pytest.mark.parametrize('seed', range(6))
def test_stack_table_equals_label_map_table(seed):
    rs = np.random.default_rng(seed)
    g, p = label(rs.random((40, 50)) > 0.55), label(rs.random((40, 50)) > 0.5) * 3   # non-consecutive pred ids
    a, b = contingency(g, p), contingency_masks(g, p)
    for f in FIELDS: np.testing.assert_array_equal(getattr(a, f), getattr(b, f), err_msg=f)
    s = contingency_masks(label_stack(g), torch.from_numpy(label_stack(p)))          # stacks (torch too): same counts
    for f in FIELDS[2:]: np.testing.assert_array_equal(getattr(a, f), getattr(s, f), err_msg=f)
    ref, got = instance_scores(g, p), instance_scores_stack(label_stack(g), label_stack(p))
    for k in SCORES: np.testing.assert_allclose(got[k], ref[k], err_msg=k)

def _loop_intersections(gt, pred):
    return np.array([[np.logical_and(x, y).sum() for y in pred] for x in gt])

def test_overlapping_stacks_match_a_pairwise_loop():
    rs = np.random.default_rng(7)
    gt = np.zeros((6, 48, 48), bool); pred = np.zeros((5, 48, 48), bool)
    for m in list(gt) + list(pred):
        m[disk(tuple(rs.integers(8, 40, 2)), int(rs.integers(4, 10)), shape=m.shape)] = True
    ct = contingency_masks(gt, pred); ref = _loop_intersections(gt, pred)
    r, c, n, u = ct.objects()
    full = np.zeros_like(ref); full[r - 1, c - 1] = n
    np.testing.assert_array_equal(full, ref)
    np.testing.assert_array_equal(ct.gt_area[1:], gt.sum((1, 2)))
    assert ct.gt_area[0] == (~gt.any(0)).sum() and ct.counts[(ct.rows == 0) & (ct.cols == 0)].item() == (~gt.any(0) & ~pred.any(0)).sum()
    for j in range(len(pred)):                                     # background row: pred pixels covered by no gt object
        k = (ct.rows == 0) & (ct.cols == j + 1)
        assert (ct.counts[k].sum() if k.any() else 0) == (pred[j] & ~gt.any(0)).sum()

def test_two_discs_overlapping_union_prediction_by_hand():
    g = np.zeros((2, 40, 60), bool)
    g[0][disk((20, 22), 10, shape=(40, 60))] = True; g[1][disk((20, 33), 10, shape=(40, 60))] = True
    A0, A1, I = g[0].sum(), g[1].sum(), (g[0] & g[1]).sum(); U = A0 + A1 - I
    assert 0.2 < I / A0 < 0.4                                      # about 30 % overlap
    s = instance_scores_stack(g, g.any(0)[None])
    assert s['aji_plus'] == pytest.approx(A0 / (U + A1))           # one pair (IoU A/U each; tie → first), G2 unpaired
    assert s['aji'] == pytest.approx((A0 + A1) / (U + U))          # plain AJI counts the union twice
    assert s['panoptic_quality'] == pytest.approx((A0 / U) / 1.5) and (s['tp'], s['fn']) == (1, 1)
    flat = np.where(g[0], 1, np.where(g[1], 2, 0))                 # the best label map: overlap to G1
    assert instance_scores_stack(g, flat)['aji_plus'] == pytest.approx((A0 + A1 - I) / (A0 + A1))
    assert instance_scores_stack(g, g)['aji_plus'] == 1.0

def test_rectangles_by_hand_and_matching_through_ct():
    G = np.zeros((2, 6, 10), bool); G[0, 1:5, 1:6] = True; G[1, 1:5, 4:9] = True
    ct = contingency_masks(G, G.any(0)[None])
    assert aji(None, None, plus=True, ct=ct) == pytest.approx(20 / 52)
    assert matching(None, None, 0.5, ct)['tp'] == 1 and matching(None, None, 0.7, ct)['tp'] == 0   # IoU 0.625

def test_empty_masks_ignored_and_counted():
    G = np.zeros((3, 8, 8), bool); G[0, :4] = True; G[2, 5:] = True   # mask 1 empty
    P = np.concatenate([G, np.zeros((2, 8, 8), bool)])
    ct = contingency_masks(G, P)
    assert ct.n_empty == (1, 3) and ct.n_gt == 2 and ct.n_pred == 2
    assert list(ct.gt_ids) == [0, 1, 3]                           # ids = 1-based positions in the input stack
    s = instance_scores_stack(G, P)
    assert (s['aji_plus'], s['n_empty_gt'], s['n_empty_pred'], s['fp']) == (1.0, 1, 3, 0)
    none = instance_scores_stack(np.zeros((2, 8, 8), bool), np.zeros((0, 8, 8), bool))
    assert np.isnan(none['aji_plus']) and none['n_empty_gt'] == 2

def test_bad_input_one_line_errors():
    G = np.zeros((2, 6, 10), bool)
    for call, msg in [(lambda: contingency_masks(np.zeros((1, 1, 6, 10)), G), '`gt`: expected a (C, H, W) stack'),
                      (lambda: contingency_masks(G, np.full((1, 6, 10), 2)), '`pred`: expected binary masks'),
                      (lambda: contingency_masks(G, G[:, :, :5]), 'image shapes differ'),
                      (lambda: contingency_masks(np.full((6, 10), -1), G), 'non-negative'),
                      (lambda: label_stack(G), '`lbl`: expected an (H, W) label map')]:
        with pytest.raises(ValueError, match=None) as e: call()
        assert msg in str(e.value) and '\n' not in str(e.value), str(e.value)
