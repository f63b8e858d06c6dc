"""Online perturbation on crops (issue 18 performance): a cropped online draw computed on the crop plus the pipeline's reach
equals the whole-image draw cut to that crop, byte for byte; the object tables and the LUT omission equal their references."""
import numpy as np
import pytest
from segkit.core import synth_blobs
from segkit.labels.noise import (LabelSample, Omission, Inclusion, FelzenszwalbInclusion, Bias, SaltPepper, Compose, NoisyLabels,
                                 object_ids, omit_objects, window_margin, _uniform)

def _data(n=3, size=96, seed=4):
    bl = synth_blobs(n, size, seed=seed)
    inst = [np.asarray(m, np.int32) for m in bl.masks]
    rng = np.random.default_rng(seed)
    other = []
    for l in inst:                                   # other objects: small squares in the background (disjoint from the objects)
        o = np.zeros_like(l)
        for j, (r, c) in enumerate(rng.integers(0, size - 4, (12, 2))): o[r:r + 3, c:c + 3] = j + 1
        other.append(np.where(l > 0, 0, o).astype(np.int32))
    return bl.images, inst, other

PIPES = {'om_inc_bias': lambda: Compose([Omission(0.5), Inclusion(0.5), Bias(6)]),
         'case_study': lambda: Compose([Omission(0.5), FelzenszwalbInclusion(0.1), SaltPepper(0.1), Bias(6)]),
         'inc_om_object': lambda: Compose([Inclusion(0.5), Omission(0.3), Bias(3, per='object'), Bias(2, op='dilate')]),
         'sp_first': lambda: Compose([SaltPepper(0.2), Bias(2), SaltPepper(0.05)])}

def _items(ds, epochs=2):
    out = []
    for e in range(epochs):
        ds.set_epoch(e)
        out += [[t.numpy() for t in ds[i]] for i in range(len(ds))]
    return out

@pytest.mark.parametrize('name', list(PIPES))
@pytest.mark.parametrize('crop', [24, 40])
def test_cropped_online_draws_equal_whole_image_draws(name, crop):
    ims, inst, oth = _data()
    kw = dict(mode='online', seed=7, crop=crop, flip=True, epoch_len=9, clean=True)
    fast, slow = NoisyLabels(ims, inst, PIPES[name](), oth, **kw), NoisyLabels(ims, inst, PIPES[name](), oth, **kw)
    assert fast.margin is not None
    slow.margin = None                                # the whole-image path
    a, b = _items(fast), _items(slow)
    assert all(np.array_equal(x, y) for p, q in zip(a, b) for x, y in zip(p, q))
    assert any((p[1] != q[1]).any() for p, q in zip(a[:9], a[9:]))        # draws differ per epoch (the comparison can fail)
    ra, rb = fast.report(), slow.report()
    assert ra.equals(rb)                              # realised rates: the same draw on the whole image

def test_window_margin_only_for_pipelines_that_can_run_on_a_crop():
    assert window_margin(Compose([Omission(0.5), Inclusion(0.5), Bias(6), Bias(2)])) == 8
    assert window_margin(Compose([Omission(0.5), SaltPepper(0.1)])) == 0
    assert window_margin(Compose([Inclusion(0.5), Inclusion(0.3), Omission(0.2)])) is None    # which objects land is unknown
    assert window_margin(Compose([FelzenszwalbInclusion(0.1, exclude='overlap')])) is None
    assert window_margin(Compose([FelzenszwalbInclusion(0.1), Omission(0.2)])) is None

def test_uniform_on_a_window_equals_the_whole_draw_and_leaves_the_generator_in_step():
    s = LabelSample(np.zeros((7, 5), np.int32), window=(2, 7, 1, 4), full_shape=(13, 11), ids=np.array([], np.int32))
    r1, r2 = np.random.default_rng([1, 2]), np.random.default_rng([1, 2])
    r1.integers(0, 5); r2.integers(0, 5)             # leaves a buffered 32-bit half in PCG64
    part, whole = _uniform(r1, s), r2.random((13, 11))
    np.testing.assert_array_equal(part, whole[2:7, 1:4])
    assert r1.integers(0, 10**6, 5).tolist() == r2.integers(0, 10**6, 5).tolist()
    assert r1.random() == r2.random()

def test_object_ids_and_lut_omission_equal_numpy():
    rng = np.random.default_rng(0)
    lab = rng.integers(0, 60, (50, 70)).astype(np.int32); lab[lab == 13] = 0
    np.testing.assert_array_equal(object_ids(lab), np.unique(lab)[1:])
    np.testing.assert_array_equal(object_ids(np.array([[0, 10**9]], np.int32)), [10**9])     # sparse huge ids: np.unique
    drop = rng.choice(object_ids(lab), 20, replace=False)
    out, lut = omit_objects(lab, drop)
    np.testing.assert_array_equal(out, np.where(np.isin(lab, drop), 0, lab))
    assert out.dtype == np.int32 and (lut[drop] == 0).all()
