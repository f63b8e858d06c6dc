"""`boundary_pr` (issue 20): pixel-exact curves equal scikit-learn's `precision_recall_curve` / `average_precision_score`
on quantised scores; the tolerance equals a brute-force check; pooling equals concatenation; bad input."""
import numpy as np
import pytest
from scipy import ndimage
from sklearn.metrics import average_precision_score, precision_recall_curve
from segkit.instances.partition import boundary_pr

def _case(seed, shape=(64, 80), bins=20):
    "Scores on the bin centres (so sklearn's unique-score thresholds meet ours) correlated with a random boundary mask."
    rng = np.random.default_rng(seed)
    t = (rng.random(shape) < .15).astype(np.uint8)
    k = np.clip(rng.integers(0, bins, shape) + 6 * t - 3, 0, bins - 1)
    return ((k + .5) / bins).astype(np.float32), t

@pytest.mark.parametrize('seed', range(3))
def test_pixel_exact_equals_sklearn(seed):
    p, t = _case(seed)
    r = boundary_pr(p, t, bins=20)
    prec, rec, thr = precision_recall_curve(t.ravel(), p.ravel())
    k = np.floor(thr * 20).astype(int)                       # sklearn threshold (k + .5)/20 ↔ our threshold k/20
    np.testing.assert_allclose(r['precision'][k], prec[:-1], rtol=1e-12)
    np.testing.assert_allclose(r['recall'][k], rec[:-1], rtol=1e-12)
    assert abs(r['ap'] - average_precision_score(t.ravel(), p.ravel())) < 1e-12

def test_tolerance_equals_brute_force():
    p, t = _case(5, (40, 40), 10)
    r = boundary_pr(p, t, tolerance=1.5, bins=10)
    ys, xs = np.nonzero(t); coords = np.stack(np.indices(t.shape), -1).reshape(-1, 2)
    d = np.sqrt(((coords[:, None] - np.stack([ys, xs], 1)[None]) ** 2).sum(-1))      # every pixel to every true pixel
    near = (d.min(1) <= 1.5).reshape(t.shape)
    for k in (0, 3, 7):
        pos = p >= k / 10
        assert r['precision'][k] == pytest.approx((pos & near).sum() / pos.sum())
        tp = np.array(                                   # a true pixel is found if a positive lies within distance 1.5
            [((np.abs(coords[:, 0] - y) ** 2 + np.abs(coords[:, 1] - x) ** 2 <= 2.25) & pos.ravel()).any() for y, x in zip(ys, xs)])
        assert r['recall'][k] == pytest.approx(tp.mean())

def test_pooling_equals_concatenation():
    (p1, t1), (p2, t2) = _case(1), _case(2)
    a = boundary_pr([p1, p2], [t1, t2], bins=20)
    b = boundary_pr(np.concatenate([p1, p2]), np.concatenate([t1, t2]), bins=20)
    for k in ('precision', 'recall', 'f1'): np.testing.assert_array_equal(a[k], b[k])

def test_3d_and_bad_input():
    p, t = _case(4, (4, 20, 20))
    assert boundary_pr(p, t, tolerance=1)['best_f1'] > 0
    for kw, msg in [(dict(pred=p * 2), '`pred`: expected probabilities in [0, 1]'), (dict(true=t[:2]), '`true`: expected shape'),
                    (dict(true=np.zeros_like(t)), '`true`: expected at least one boundary pixel'), (dict(bins=0), '`bins`: expected an integer ≥ 1'),
                    (dict(true=[t, t]), '`true`: expected one truth per prediction')]:
        args = dict(pred=p, true=t) | kw
        if isinstance(args['true'], list): args['pred'] = [p]
        with pytest.raises(ValueError, match=__import__('re').escape(msg)): boundary_pr(**args)
