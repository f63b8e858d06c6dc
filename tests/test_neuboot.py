"""NeuBoot: labelers against scikit-image/scikit-learn references, the polarity rule, the registry, scores, and that no real mask reaches training."""
import numpy as np
import pandas as pd
import pytest
from skimage.filters import threshold_otsu
from segkit.registry import UnknownName
from segkit.pseudo.neuboot import (LABELERS, register_labeler, to_gray, otsu_labeler, kmeans_labeler, minority_side, naive_masks,
                                   mask_scores, fit_unet, refine, neuboot)

def _blobs(seed=0, n=32, dark=False):
    rng = np.random.default_rng(seed)
    im = np.clip(rng.normal(0.25, 0.05, (n, n)), 0, 1).astype(np.float32)
    gt = np.zeros((n, n), bool); gt[4:12, 6:14] = gt[18:26, 16:28] = True
    im[gt] = np.clip(rng.normal(0.8, 0.05, gt.sum()), 0, 1)
    return (1 - im if dark else im), gt

def test_otsu_matches_skimage_and_polarity():
    im, gt = _blobs()
    assert (otsu_labeler(im, polarity='bright') == (im > threshold_otsu(im))).all()
    assert (otsu_labeler(im) == gt).all()
    dark, _ = _blobs(dark=True)
    assert (otsu_labeler(dark) == gt).all() and (otsu_labeler(dark, polarity='dark') == gt).all()
    assert (otsu_labeler(dark, polarity='bright') == ~gt).all()

def test_minority_rule():
    b = np.zeros(10, bool); b[:3] = True
    assert (minority_side(b) == b).all() and (minority_side(~b) == b).all()

def test_rgb_and_hematoxylin():
    from skimage.color import rgb2gray
    rgb = np.random.default_rng(0).random((3, 8, 9)).astype(np.float32)
    np.testing.assert_allclose(to_gray(rgb), rgb2gray(np.moveaxis(rgb, 0, -1)), rtol=1e-5)
    assert to_gray(rgb, 'hematoxylin').shape == (8, 9)

def test_kmeans_equals_otsu_on_two_levels():
    im = np.full((40, 40), 0.2, np.float32); im[5:15, 5:30] = 0.9
    assert (kmeans_labeler(im) == otsu_labeler(im)).all()
    assert (kmeans_labeler(1 - im) == otsu_labeler(1 - im)).all()

def test_kmeans_three_levels_largest_is_background():
    im = np.full((30, 30), 0.5, np.float32); im[:6] = 0.1; im[6:10] = 0.9   # the middle level is the largest: background
    m = kmeans_labeler(im, k=3)
    assert (m == (im != 0.5)).all()

def test_kmeans_matches_sklearn_on_all_pixels():
    from sklearn.cluster import KMeans
    im, _ = _blobs(3)
    km = KMeans(2, n_init=10, random_state=0).fit(im.reshape(-1, 1))
    lab = km.labels_; ref = (lab != np.bincount(lab).argmax()).reshape(im.shape)
    assert (kmeans_labeler(im, sample=None) == ref).all()

def test_kmeans_seeded():
    im, _ = _blobs(1)
    assert (kmeans_labeler(im, sample=50, seed=4) == kmeans_labeler(im, sample=50, seed=4)).all()

def test_constant_images_give_empty_masks():
    c = np.full((8, 8), 0.4, np.float32)
    assert not otsu_labeler(c).any() and not kmeans_labeler(c).any()

def test_bad_input():
    im, _ = _blobs()
    with pytest.raises(ValueError, match='`k`: expected an integer ≥ 2'): kmeans_labeler(im, k=1)
    with pytest.raises(ValueError, match='`sample`: expected ≥ k = 2'): kmeans_labeler(im, sample=1)
    with pytest.raises(ValueError, match='`polarity`: expected one of'): otsu_labeler(im, polarity='x')
    with pytest.raises(ValueError, match=r'\(H, W\) or \(C, H, W\)'): otsu_labeler(np.zeros((1, 1, 4, 4)))
    with pytest.raises(ValueError, match='`features`'): kmeans_labeler(im, features='hsv')
    with pytest.raises(UnknownName, match="unknown labeler 'nope'"): naive_masks([im], 'nope')
    with pytest.raises(ValueError, match='not binary'): naive_masks([im], lambda x: x * 2)
    with pytest.raises(ValueError, match='`preds`/`targets`: 1 masks but 2'): mask_scores([im > 0], [im > 0, im > 0])

def test_registry_smoke_and_user_labeler():
    for n in ('otsu', 'kmeans'): assert LABELERS.check(n) == 16
    @register_labeler('_test_fixed', 'fixed threshold 0.5')
    def fixed(image): return to_gray(image) > 0.5
    try:
        im, gt = _blobs()
        assert (naive_masks([im], '_test_fixed')[0] == gt).all()
    finally: LABELERS._entries.pop('_test_fixed', None)   # leave the registry as it was

def test_mask_scores_pooled():
    p = [np.array([[1, 1], [0, 0]], bool), np.zeros((2, 2), bool)]
    t = [np.array([[1, 0], [0, 0]]), np.array([[1, 0], [0, 0]])]
    s = mask_scores(p, t)   # pooled: tp 1, fp 1, fn 1, tn 5
    assert s == dict(dsc=pytest.approx(0.5), iou=pytest.approx(1 / 3), pa=pytest.approx(6 / 8))

def test_neuboot_never_sees_real_masks_and_refines():
    "Only images go in; the labeler is called for train and validation images; the network reproduces a clean labeler."
    calls = []
    def lab(image): calls.append(image.shape); return image > 0.5
    ims = [_blobs(s)[0] for s in range(6)]
    res = neuboot(ims[:4], ims[4:], lab, epochs=8, epoch_len=16, crop=None, bs=4, depth=2, base=8, lr=1e-2, valid_crop=None, device='cpu', seed=0)
    assert len(calls) == 6 and len(res.refined) == 4 and res.info['labeler'] == 'lab' and res.info['epochs'] == 8
    s = mask_scores(res.refined, [_blobs(s)[1] for s in range(4)])
    assert s['dsc'] > 0.6, s

def test_fit_unet_is_seeded():
    ims = [_blobs(s)[0] for s in range(4)]; ms = [_blobs(s)[1] for s in range(4)]
    a = fit_unet((ims[:2], ms[:2]), (ims[2:], ms[2:]), epochs=1, epoch_len=4, crop=16, bs=2, depth=1, base=4, device='cpu', seed=1)
    b = fit_unet((ims[:2], ms[:2]), (ims[2:], ms[2:]), epochs=1, epoch_len=4, crop=16, bs=2, depth=1, base=4, device='cpu', seed=1)
    for p, q in zip(a.parameters(), b.parameters()): assert (p == q).all()
