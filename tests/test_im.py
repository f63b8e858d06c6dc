"Issue 17: Inconsistency Masks, morphology, pairs, codec, 1x1 U-Net, augmentation, generations (bad inputs included)."
import numpy as np
import pytest
import torch
from scipy import ndimage as ndi
from segkit.pseudo.im import (im_binary, im_multiclass, im_multilabel, erode, dilate, morph_im, im_pair, keep_pair, IMCodec,
                              decode_im, make_im_pairs, PSEUDO_STRATEGIES, IMOut, _stats)
from segkit.models.imunet import OneByOneUNet, keras_param_count, EvalNet, evalnet_score
from segkit.pseudo.generations import (d4, d4_inverse, augment_pair, n_copies, GenConfig, topk, base_models, run_generations,
                                       photometric, TABLE1)

def test_fig1_truth_tables():
    o = im_binary(np.array([[[1, 1, 0, 0]], [[1, 0, 1, 0]]]))
    assert o.F[0].tolist() == [1, 0, 0, 0] and o.I[0].tolist() == [0, 1, 1, 0]
    assert o.F is o[0] and o.I is o[1]
    o3 = im_multiclass(np.array([[[0, 1, 2, 2]], [[0, 1, 1, 2]], [[0, 2, 2, 2]]]), 3)
    assert o3.F[0].tolist() == [0, 3, 3, 2] and o3.I[0].tolist() == [0, 1, 1, 0]

@pytest.mark.parametrize('seed', [0, 1, 2])
def test_alg1_equals_alg2_on_binary(seed):
    pm = np.random.default_rng(seed).integers(0, 2, (4, 3, 20, 20))
    a, b = im_binary(pm), im_multiclass(pm, 2)
    np.testing.assert_array_equal(np.where(b.F == 2, 0, b.F), a.F); np.testing.assert_array_equal(a.I, b.I)

@pytest.mark.parametrize('fn,shape,kw', [(im_binary, (5, 2, 12, 12), {}), (im_multiclass, (5, 3, 12, 12), dict(n_classes=4)),
                                         (im_multilabel, (5, 2, 3, 12, 12), {})])
@pytest.mark.parametrize('backend', ['numpy', 'torch'])
def test_batched_equals_loop(fn, shape, kw, backend):
    hi = kw.get('n_classes', 2)
    pm = np.random.default_rng(0).integers(0, hi, shape)
    x = torch.from_numpy(pm) if backend == 'torch' else pm
    o = fn(x, **kw)
    loop = [fn(p, **kw) for p in x]
    as_np = lambda a: a.numpy() if isinstance(a, torch.Tensor) else a
    np.testing.assert_array_equal(as_np(o.F), np.stack([as_np(l.F) for l in loop]))
    np.testing.assert_array_equal(as_np(o.I), np.stack([as_np(l.I) for l in loop]))
    assert type(o.F) is type(x)

def _border_mask():
    m = np.zeros((15, 15), np.uint8); m[:5, :7] = 1; m[9:, 10:] = 1; m[6:9, 0:3] = 1; m[7, 7] = 1
    return m

@pytest.mark.parametrize('k', [3, 5, 7])
def test_morphology_matches_scipy_and_skimage(k):
    from skimage.morphology import erosion, dilation
    m, fp = _border_mask(), np.ones((k, k), np.uint8)
    np.testing.assert_array_equal(erode(m, k).astype(bool), ndi.binary_erosion(m, fp, border_value=1))
    np.testing.assert_array_equal(dilate(m, k).astype(bool), ndi.binary_dilation(m, fp))
    np.testing.assert_array_equal(erode(m, k), erosion(m, fp)); np.testing.assert_array_equal(dilate(m, k), dilation(m, fp))
    np.testing.assert_array_equal(erode(torch.from_numpy(m), k).numpy(), erode(m, k))

def test_morphology_differs_from_scipy_default_border():
    m = _border_mask()
    assert not np.array_equal(erode(m, 3).astype(bool), ndi.binary_erosion(m, np.ones((3, 3))))

@pytest.mark.parametrize('k', [3, 5])
def test_morphology_matches_opencv(k):
    cv2 = pytest.importorskip('cv2')
    m, fp = _border_mask(), np.ones((k, k), np.uint8)
    np.testing.assert_array_equal(erode(m, k), cv2.erode(m, fp)); np.testing.assert_array_equal(dilate(m, k), cv2.dilate(m, fp))

def test_refill_hand_made():
    F = np.array([[1] * 3 + [2] * 4] * 7); I = np.zeros((7, 7), np.uint8); I[1:6, 1:6] = 1
    Fi = np.where(I > 0, 3, F)
    r = morph_im(IMOut(Fi, I, _stats(Fi, I, 3)), e=3, task='multiclass', n_classes=3)
    assert r.I.sum() == 9 and r.F[3].tolist() == [1, 1, 3, 3, 3, 2, 2] and r.F[1, 2] == 2   # seam: highest class id wins
    assert ((r.F == 3) == (r.I > 0)).all()
    F9 = np.ones((9, 9), np.int64); F9[:, 5:] = 2; I9 = np.zeros((9, 9), np.uint8); I9[1:8, 1:8] = 1
    Fi9 = np.where(I9 > 0, 3, F9)
    o9 = IMOut(Fi9, I9, _stats(Fi9, I9, 3))
    a, b = morph_im(o9, 5, 0, 'multiclass', 3, k_refill=3), morph_im(o9, 5, 0, 'multiclass', 3, k_refill=3, refill_scope='label')
    assert a.stats.loc[0, 'freed_unreached'] == 16
    assert not np.array_equal(a.F, b.F)                  # the authors' whole-label refill moves the class boundary

def test_pair_and_filter():
    o = im_binary(np.array([[[1, 1, 0, 0]], [[1, 0, 1, 0]]]))
    x, y = im_pair(np.ones((2, 1, 4), np.float32), o)
    assert (x[:, 0, 1:3] == 0).all() and (x[:, 0, [0, 3]] == 1).all() and y[0].tolist() == [1, 0, 0, 0]
    assert keep_pair(o).tolist() == [False]                                                      # |F| < |I|
    assert keep_pair(im_binary(np.array([[[1, 1, 1, 0, 0, 0]], [[1, 1, 0, 1, 0, 0]]]))).tolist() == [False]   # |F| = |I|
    assert keep_pair(im_binary(np.zeros((2, 1, 4), np.uint8))).tolist() == [False]               # |F| = 0
    pm = np.zeros((2, 12, 12), np.uint8); pm[:, 2:6, 2:6] = 1; pm[0, 7:12:2, ::2] = 1
    om = morph_im(im_binary(pm), e=3)
    assert keep_pair(om, 'pre').tolist() == [False] and keep_pair(om, 'post').tolist() == [True]
    xm, ym = im_pair(np.ones((1, 4), np.float32), im_multiclass(np.array([[[0, 1, 2, 2]], [[0, 1, 1, 2]]]), 3), 'multiclass', 3)
    assert ym[0].tolist() == [0, 1, 3, 2]

def test_codec_round_trip():
    for C in (2, 3, 5):
        c, y = IMCodec(C), np.arange(C + 1)
        np.testing.assert_array_equal(c.from_paper(c.to_paper(y)), y)
        assert c.to_paper(np.array([C]))[0] == 0 and c.to_paper(np.array([0]))[0] == 1
    lg = torch.tensor([[[0.1]], [[0.2]], [[0.9]]])
    assert decode_im(lg).item() == 1 and decode_im(lg, 'all').item() == 2

def test_table3_parameter_counts():
    t3 = {0.5: 171_561, 0.75: 384_301, 1: 681_681, 1.25: 1_063_701, 1.5: 1_530_361, 1.75: 2_081_661, 2: 2_717_601}
    assert {a: keras_param_count(OneByOneUNet(3, 1, a)) for a in t3} == t3

def test_evalnet_and_copy_mapping():
    lo, hi = 0.6, 0.85; step = (hi - lo) / 5
    assert n_copies(lo, lo, hi) == 1 and n_copies(lo + step, lo, hi) == 2 and n_copies(hi, lo, hi) == 5 and n_copies(hi + 1, lo, hi) == 5
    assert n_copies(0., lo, hi) == 1
    with pytest.raises(ValueError, match='lo < hi'): n_copies(0.7, 0.8, 0.8)
    s = EvalNet(1, 1, 0.5)(torch.rand(2, 1, 64, 64), torch.rand(2, 1, 64, 64))
    assert ((s >= 0) & (s <= 1)).all()
    out = dict(iou=torch.tensor([[.4, .8, 1.]]), detection=torch.tensor([[.9, .9, .9]]))
    assert torch.allclose(evalnet_score(out, im_class=2), torch.tensor([.6]))

def test_augmentation_maps_image_and_mask_alike():
    cb = (np.indices((16, 12)).sum(0) % 3 == 0).astype(np.int64); cb[0, :5] = 1
    for k in range(8): np.testing.assert_array_equal(d4_inverse(d4(cb, k), k), cb)
    rng = np.random.default_rng(0)
    for _ in range(30):
        x, y = augment_pair(cb[None].astype(np.float32), cb, 0, rng, table='cityscapes')    # G1: no blur, noise < 5/255
        assert np.abs(x[0] - y).max() <= 0.5 or np.abs(x[0] - np.clip(np.abs(x[0]), 0, 1)).max() == 0
        assert ((x[0] > 0.5) == (y > 0)).all()
    z = photometric(np.full((1, 8, 8), 0.5, np.float32), 4, np.random.default_rng(0), table='hela', order='bnb')
    assert z.shape == (1, 8, 8) and z.dtype == np.float32

def test_same_seed_same_pairs():
    rng = np.random.default_rng(0)
    probs = [[np.stack([1 - a, a]) for a in rng.random((3, 16, 16)).astype(np.float32)] for _ in range(2)]
    ims = [rng.random((1, 16, 16)).astype(np.float32) for _ in range(3)]
    for name in ('im', 'im+', 'ns'):
        a = PSEUDO_STRATEGIES[name](probs, ims, 'binary', 2, gen=1, seed=5, e=3, d=5)
        b = PSEUDO_STRATEGIES[name](probs, ims, 'binary', 2, gen=1, seed=5, e=3, d=5)
        assert [x.tobytes() for x in a.images] == [x.tobytes() for x in b.images]
        assert [np.asarray(y).tobytes() for y in a.targets] == [np.asarray(y).tobytes() for y in b.targets]

def test_strategy_registry_smoke():
    for n in PSEUDO_STRATEGIES.names(): PSEUDO_STRATEGIES.check(n)
    assert {'ldt', 'fdt', 'aldt', 'me', 'ie', 'ns', 'im', 'im+', 'aim+', 'gt_im++'} <= set(PSEUDO_STRATEGIES.names())

@pytest.mark.parametrize('call,match', [
    (lambda: im_binary(np.zeros((1, 4, 4))), 'at least 2 prediction masks'),
    (lambda: im_binary(np.full((2, 4, 4), 2)), 'values in {0, 1}'),
    (lambda: im_binary([np.zeros((4, 4)), np.zeros((5, 4))]), 'different shapes'),
    (lambda: im_multiclass(np.full((2, 4, 4), 3), 3), 'class ids must lie in 0..2'),
    (lambda: erode(np.zeros((4, 4)), 4), 'odd kernel size'),
    (lambda: dilate(np.zeros((4, 4)), -3), 'odd kernel size'),
    (lambda: morph_im(im_binary(np.zeros((2, 4, 4), np.uint8)), e=2), '`e`'),
    (lambda: im_pair(np.zeros((1, 5, 5)), im_binary(np.zeros((2, 4, 4), np.uint8))), 'spatial size'),
    (lambda: augment_pair(np.zeros((1, 8, 8)), np.zeros((4, 8)), 0, np.random.default_rng(0)), 'label size'),
    (lambda: PSEUDO_STRATEGIES['gt_im++']([[np.ones((2, 4, 4))]] * 2, [np.ones((1, 4, 4))]), '`gt`'),
    (lambda: GenConfig(k=4, students=3), '`k`'),
    (lambda: topk([(None, dict(val=1.))], 2), '`k`'),
    (lambda: OneByOneUNet(1, 2, 0.05), 'zero-width'),
    (lambda: GenConfig(alpha0=0.05), 'zero-width'),
    (lambda: GenConfig(generations=3, alpha_sched=(0.5, 0.75)), '`alpha_sched`'),
])
def test_bad_input(call, match):
    with pytest.raises(ValueError, match=match.replace('{', r'\{').replace('}', r'\}').replace('.', r'\.')): call()

def test_ald_strategy_without_ald():
    from segkit.data.nuclei_tasks import TaskData
    z = [np.zeros((1, 32, 32), np.float32)] * 3, [np.zeros((32, 32), np.int64)] * 3
    td = TaskData('binary', 's', 2, z, z, z, z, ('b', 'o'))
    with pytest.raises(ValueError, match='ALDT'): run_generations('aim+', td, GenConfig(crop=32), {'ldt': []})

@pytest.mark.slow
def test_two_generations_end_to_end():
    from segkit.core import synth_blobs
    from segkit.data.nuclei_tasks import TaskData
    sb = synth_blobs(12, 32, seed=1)
    ims, ys = [x[None] for x in sb.images], [(m > 0).astype(np.int64) for m in sb.masks]
    td = TaskData('binary', 'synthetic', 2, (ims[:2], ys[:2]), (ims[2:7], ys[2:7]), (ims[7:9], ys[7:9]), (ims[9:], ys[9:]), ('b', 'o'))
    cfg = GenConfig(generations=2, students=2, k=2, n_base=2, epochs=1, epoch_len=16, crop=32, device='cpu')
    base = base_models(td, cfg, log=None)
    res = run_generations('im+', td, cfg, base, log=None)
    assert res.generation.tolist() == [1, 2] and res.alpha.tolist() == [0.5, 0.75]
    assert res.val.between(0, 1).all() and (res.kept + res.dropped == 5).all()
