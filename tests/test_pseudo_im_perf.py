"""IM construction after the performance work (issue 17): elementwise folds over the teacher axis and word-wise counts give
exactly the per-image Alg. 1 results and numpy's counts, for every dtype, teacher count and image size."""
import numpy as np
import pytest
import torch
from segkit.pseudo.im import im_binary, im_multiclass, im_multilabel, _count01

def _alg1(p):
    S = p.astype(np.int64).sum(0); n = len(p)
    return (S == n).astype(np.uint8), ((S != 0) & (S != n)).astype(np.uint8)

@pytest.mark.parametrize('dtype', [np.uint8, np.bool_, np.int64, np.float32])
@pytest.mark.parametrize('n,shape', [(2, (16, 24)), (3, (7, 9)), (5, (33, 40))])
def test_im_binary_equals_per_image_alg1_with_counts(dtype, n, shape):
    pm = (np.random.default_rng(n).random((6, n) + shape) > 0.4).astype(dtype)
    pm_copy = pm.copy()
    o = im_binary(pm)
    for b in range(6):
        F, I = _alg1(pm[b])
        np.testing.assert_array_equal(o.F[b], F); np.testing.assert_array_equal(o.I[b], I)
        assert (o.stats.im_px[b], o.stats.fg_px[b]) == (I.sum(), F.sum())
    np.testing.assert_array_equal(pm, pm_copy)                # the input is never written (the in-place step works on a new array)
    t = im_binary(torch.from_numpy(pm.astype(np.uint8)))
    np.testing.assert_array_equal(t.F.numpy(), o.F); assert t.stats.equals(o.stats)

def test_count01_equals_numpy_sum_for_awkward_sizes():
    for shape in [(3, 8), (2, 8 * 251), (4, 8 * 509), (5, 7, 13), (1, 8 * 255 * 3)]:     # word counts: 1, prime 251 and 509, not /8, 3·255
        a = (np.random.default_rng(len(shape)).random(shape) > 0.5).astype(np.uint8)
        np.testing.assert_array_equal(_count01(a), a.reshape(len(a), -1).sum(1))
    full = np.ones((2, 8 * 255 * 4), np.uint8)                       # every byte lane at its 255 limit
    np.testing.assert_array_equal(_count01(full), [8 * 255 * 4] * 2)

def test_multiclass_and_multilabel_fold_equal_numpy_reductions():
    rc = np.random.default_rng(2).integers(0, 4, (3, 4, 10, 12))
    o = im_multiclass(rc, 4)
    np.testing.assert_array_equal(o.I, (rc.min(1) != rc.max(1)).astype(np.uint8))
    ml = np.random.default_rng(3).integers(0, 2, (2, 3, 2, 10, 12)).astype(np.uint8)
    m = im_multilabel(ml)
    np.testing.assert_array_equal(m.F, ml.min(1)); np.testing.assert_array_equal(m.I, (ml.min(1) != ml.max(1)).any(1).astype(np.uint8))
    with pytest.raises(ValueError, match='binary IM expects values in'): im_binary(np.array([[[0, 2]], [[0, 1]]], np.uint8))
