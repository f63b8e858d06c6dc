"""SPOCO's budget comparison and quick-preset pieces: dense patches at SPOCO@p's annotated-pixel budget, the recipe's
training labels per setting, the label-free foreground mask, and the mutex watershed's fragment filter."""
import numpy as np, pandas as pd, pytest
from segkit.labels.objects import ObjectLabels, dense_patches, patch_target
from segkit.instances.embeddings import mws_labels
from segkit.recipes.spoco import SpocoCfg, spoco_train_labels, fg_mask, _rescale
from conftest import toy_objects

def _toy(n=6): return toy_objects(n, size=64, objects=8, side=7, margin=0)

def test_dense_patches_are_distinct_inside_and_cover_the_budget():
    _, labs = _toy()
    p = dense_patches(labs, pixels=1000, size=10, seed=3)
    assert len(p) == 10 and len(p.drop_duplicates(['image', 'y', 'x'])) == 10
    assert ((p.y % 10 == 0) & (p.x % 10 == 0) & (p.y + 10 <= 64) & (p.x + 10 <= 64)).all()     # grid cells: never overlapping
    assert p.equals(dense_patches(labs, pixels=1000, size=10, seed=3)) and not p.equals(dense_patches(labs, pixels=1000, size=10, seed=4))
    ol = ObjectLabels(*_toy(), patches=p)
    assert ol.annotated_pixels == 1000                                  # 10 disjoint 10² patches, every pixel labelled
    t = patch_target(labs[int(p.image[0])], p[p.image == p.image[0]])
    assert (t == -1).sum() == 64 * 64 - 100 * (p.image == p.image[0]).sum()

def test_dense_setting_matches_the_sparse_settings_pixel_budget():
    imgs, labs = _toy()
    data = dict(train=(imgs, labs))
    cfg = SpocoCfg(scale=1.0, crop=32, patch=8, epoch_len=4)
    sparse, dense = spoco_train_labels(data, 'p0.1', cfg, 0), spoco_train_labels(data, 'dense-p0.1', cfg, 0)
    assert 0 <= dense.annotated_pixels - sparse.annotated_pixels < 8 * 8
    assert dense.patches is not None and sparse.patches is None
    y = dense.target(int(dense.patches.image[0]))
    assert (y == 0).any() and (y == -1).any()                           # background labelled inside the patches only
    assert not (sparse.target(0) == 0).any()                            # SPOCO@p never labels the background

def test_rescale_keeps_label_ids_and_halves_the_size():
    imgs, labs = _toy(1)
    (x,), (l,) = _rescale(imgs, labs, 0.5)
    assert x.shape == l.shape == (32, 32) and set(np.unique(l)) <= set(np.unique(labs[0]))

def test_fg_mask_and_the_mws_fragment_filter():
    imgs, labs = _toy(1)
    m = fg_mask(imgs[0])
    assert 2 * (m & (labs[0] > 0)).sum() / (m.sum() + (labs[0] > 0).sum()) > 0.9
    assert fg_mask(imgs[0], 'none') is None
    with pytest.raises(ValueError, match='`mask`'): fg_mask(imgs[0], 'otsu2')
    e = np.zeros((2, 16, 16), np.float32); e[0, 2:6, 2:6] = 10; e[1, 10:11, 10:12] = 10       # a 16-px object and a 2-px fragment
    assert mws_labels(e).max() == 2 and mws_labels(e, min_size=3).max() == 1

def test_split_fragments_and_the_quick_preset_clusterer_options():
    from segkit.recipes.spoco import split_fragments
    lbl = np.zeros((16, 16), int); lbl[:3, :3] = 5; lbl[10:14, 10:14] = 5; lbl[8, 0] = 2        # one cluster in two pieces + a 1-px fragment
    out = split_fragments(lbl, min_size=2)
    assert out.max() == 2 and out.dtype == np.int32 and (out[8, 0] == 0) and out[0, 0] != out[12, 12]
    cfg = SpocoCfg()
    assert 'p0.1-nopush' in cfg.settings and cfg.connected and cfg.aff_delta_d == 3.0
    assert SpocoCfg.FULL['aff_delta_d'] == 2.0                                             # the full preset keeps the thesis' δ_d
