"""segkit.widgets without a display: caches, neighbour ordering, channel sorting, CoHeG kept vs full labels, bad input."""
import numpy as np
import pytest
import torch
from torch import nn
torch.set_num_threads(1)
from segkit.core import synth_blobs
from segkit.widgets.base import ViewCache, WidgetInputError
from segkit.widgets.cams import CAMInspector, compute_cam
from segkit.widgets.neighbors import NeighborExplorer, neighbors, embed_items, nearest_point, project_2d
from segkit.widgets.features import FeatureMapViewer, channel_order, feature_maps
from segkit.widgets.coheg import CoHeGExplorer, coheg_views

def _net(seed=0, n_out=2):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 4, 3, padding=1), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, n_out))

@pytest.fixture(scope='module')
def blobs(): return synth_blobs(n=4, size=32, seed=0)

def test_view_cache_lru_and_counts():
    c, calls = ViewCache(maxsize=2), []
    f = lambda v: (lambda: calls.append(v) or v)
    assert c.get('a', f(1)) == 1 and c.get('a', f(2)) == 1 and calls == [1]
    c.get('b', f(2)); c.get('a', f(0)); c.get('c', f(3))   # 'b' is least recently used
    assert 'b' not in c and 'a' in c and (c.hits, c.misses) == (2, 3)

def test_cam_inspector_caches_maps_and_pngs(blobs):
    ins = CAMInspector({'a': [_net(0), _net(1)], 'b': _net(2)}, blobs.images, labels=blobs.masks)
    p1 = ins.render(index=1, method='gradcam')
    assert ins.cam_cache.misses == 1 and ins.png_cache.misses == 1
    p2 = ins.render(index=1, method='gradcam')
    assert p2 is p1 and ins.png_cache.hits == 1
    ins.render(index=1, method='gradcam', alpha=0.2)               # new opacity: new picture, same map
    assert ins.cam_cache.misses == 1 and ins.cam_cache.hits >= 1
    ins.render(index=1, method='gradcam', ensemble=True)           # ensemble of net 'a' = mean of its seeds' maps
    m0 = ins.cam(1, 'gradcam', net='a'); ens = ins.cam(1, 'gradcam', ensemble=True, net='a')
    np.testing.assert_allclose(ens, (m0 + compute_cam(ins.nets['a'][1:], blobs.images[1], 'gradcam')) / 2, atol=1e-6)
    ins.render(index=1, mode='networks', net_b='b')
    assert len(ins.dices) == 2 and all(0 <= d <= 1 for d in ins.dices)

def test_cam_inspector_accepts_a_learner(blobs):
    from fastai.learner import Learner
    from fastai.data.core import DataLoaders
    learn = Learner(DataLoaders([], []), _net(), loss_func=nn.CrossEntropyLoss())
    assert CAMInspector(learn, blobs.images).render()[:4] == b'\x89PNG'

def test_cam_inspector_bad_input(blobs):
    with pytest.raises(WidgetInputError, match='empty'): CAMInspector(_net(), [])
    with pytest.raises(WidgetInputError, match='3 entries for 4'): CAMInspector(_net(), blobs.images, labels=blobs.masks[:3])
    with pytest.raises(WidgetInputError, match='Learner'): CAMInspector('not a model', blobs.images)
    with pytest.raises(WidgetInputError, match='classes'): CAMInspector(_net(), blobs.images, classes=['x'])
    with pytest.raises(WidgetInputError, match='does not match'): CAMInspector(_net(), blobs.images, labels=[np.zeros((3, 3))] * 4)

def test_interaction_errors_are_shown_in_the_widget(blobs):
    ins = CAMInspector(_net(), blobs.images)
    ins.widget                                      # builds the ipywidgets layer
    assert ins.last_error is None and ins.image.value[:4] == b'\x89PNG'
    ins._controls['target'].options = [('predicted', None), ('7', 7)]
    ins._controls['target'].value = 7               # a class the model does not have: shown, not raised
    assert 'target' in ins.last_error and '⚠' in ins.error_box.value
    assert ins.error_box.layout.display != 'none'
    ins._controls['target'].value = None
    assert ins.last_error is None and ins.error_box.layout.display == 'none'

def test_neighbors_match_brute_force():
    rng = np.random.default_rng(0)
    f = rng.normal(size=(30, 6))
    for q in (0, 7, 29):
        d = np.linalg.norm(f - f[q], axis=1)
        near, dn, far, dfar = neighbors(f, q, k=5)
        others = [i for i in range(30) if i != q]
        assert near.tolist() == sorted(others, key=lambda i: (d[i], i))[:5]
        assert far.tolist() == sorted(others, key=lambda i: (-d[i], i))[:5]
        np.testing.assert_allclose(dn, d[near]); np.testing.assert_allclose(dfar, d[far])
        assert q not in near and np.all(np.diff(dn) >= 0) and np.all(np.diff(dfar) <= 0)

def test_neighbor_explorer_embeddings_cached_and_pca():
    imgs = synth_blobs(n=10, size=32, seed=1).images
    calls = []
    class Enc(nn.Module):
        def __init__(self): super().__init__(); self.c = nn.Conv2d(1, 6, 3)
        def forward(self, x): calls.append(len(x)); return self.c(x)
    ne = NeighborExplorer(Enc(), imgs, list('ab' * 5), k=3, pca=4)
    ne.render(); n = len(calls); ne.render(query=3); ne.render(query=3, pca=None)
    assert len(calls) == n, "embeddings are computed once"
    f = ne.features(4); assert f.shape == (10, 4)
    assert ne.query(3, 3, 4)[0].tolist() == neighbors(f, 3, 3)[0].tolist()
    p = ne.projection('pca', 4)
    assert ne.select_point(*p[6]) == 6 and nearest_point(p, *p[2]) == 2
    assert project_2d(f, 'tsne').shape == (10, 2)

def test_neighbor_explorer_bad_input():
    imgs = synth_blobs(n=4, size=16, seed=1).images
    class NoFeatures(nn.Module):
        def forward(self, x): return {'logits': x}
    with pytest.raises(WidgetInputError, match='does not return features'): NeighborExplorer(NoFeatures(), imgs, list('abab'))
    with pytest.raises(WidgetInputError, match='does not return features'): embed_items(nn.Flatten(0), imgs)
    with pytest.raises(WidgetInputError, match='3 entries for 4'): NeighborExplorer(np.zeros((4, 2)), imgs, list('abc'))
    with pytest.raises(WidgetInputError, match='empty'): NeighborExplorer(np.zeros((0, 2)), [], [])
    with pytest.raises(WidgetInputError, match=r'features \(N=4'): NeighborExplorer(np.zeros((3, 2)), imgs, list('abcd'))

def test_channel_sorting_and_feature_maps():
    a = np.random.default_rng(0).normal(size=(12, 5, 5))
    o = channel_order(a)
    assert sorted(o.tolist()) == list(range(12)) and np.all(np.diff(a[o].mean((1, 2))) <= 0)
    from segkit.models.encoders import get_encoder
    img = synth_blobs(n=1, size=32, seed=0).images[0]
    fm = feature_maps(get_encoder('unet', depth=2, base=4), img)
    assert [k for k in fm] == ['stage 0', 'stage 1', 'stage 2'] and fm['stage 2'].shape == (16, 8, 8)
    v = FeatureMapViewer(_net(), img)
    assert v.layers == ['0', '2'] and not v.grns
    v.render(layer='2', rank=1); v.render(layer='0', rank=0)
    assert v.act_cache.misses == 3, "one forward pass, then one ordering per layer"
    with pytest.raises(WidgetInputError, match='rank'): v.render(layer='2', rank=99)
    with pytest.raises(WidgetInputError, match='no Conv2d'): FeatureMapViewer(nn.Linear(3, 3), img)

def test_coheg_kept_vs_full():
    from segkit.labels.coheg import CoHeG
    sb = synth_blobs(n=8, size=24, seed=3)
    sem = [np.where(m > 0, 1 + (m % 2), 0).astype(np.uint8) for m in sb.masks]
    ds = CoHeG(sb.images, sem, ('background', 'odd', 'even'), rate=0.5, seed=1)
    ce = CoHeGExplorer(ds)
    for k in range(8):
        _, full, kept, removed = coheg_views(ds, k)
        np.testing.assert_array_equal(full, sem[k])
        _, y, m = ds[k]
        for c in (1, 2):
            np.testing.assert_array_equal(kept == c, y[c].numpy() > 0)
            assert (c in removed) == (ds.m_table[k, c] == 0)
            if c in removed: assert not (kept == c).any()
            else: np.testing.assert_array_equal(kept == c, full == c)
    assert ce.samples(2) == np.flatnonzero(ds.m_table[:, 2] == 0).tolist()
    assert ce.render(missing=2) != ce.render(missing=None)
    with pytest.raises(WidgetInputError, match='CoHeG'): CoHeGExplorer([1, 2])

def test_widgets_reuse_the_library():
    "The CAM ensemble, PCA and Encoder embedding are the library's, not copies."
    from segkit.explain.cams import ensemble_cam
    from segkit.metrics.representation import psi_nqc
    from segkit.selfsl.transfer import embed_images
    from segkit.models.encoders import get_encoder
    from segkit.widgets.neighbors import pca_reduce
    imgs = synth_blobs(n=6, size=32, seed=2).images
    nets = [_net(0), _net(1)]
    np.testing.assert_allclose(compute_cam(nets, imgs[0], 'gradcam', target=1),
                               ensemble_cam(nets, 'gradcam', torch.from_numpy(imgs[:1])[:, None], target=1)[0].numpy(), atol=1e-7)
    enc = get_encoder('unet', depth=2, base=4).train()
    np.testing.assert_array_equal(embed_items(enc, imgs, batch_size=4), embed_images(enc, list(imgs), crop=32, n_crops=1))
    assert enc.training, "the encoder's mode is restored"
    f = np.random.default_rng(0).normal(size=(20, 5))
    p = pca_reduce(f, 2)
    assert p.shape == (20, 2) and np.allclose(p.T @ p, np.diag(np.diag(p.T @ p)))   # uncorrelated components
    assert psi_nqc(f, [0, 1] * 10, pca=2) == psi_nqc(p, [0, 1] * 10)

def test_widget_modules_import_without_ipywidgets():
    import subprocess, sys
    code = ("import sys, segkit.widgets.base, segkit.widgets.cams, segkit.widgets.neighbors, segkit.widgets.features, "
            "segkit.widgets.coheg; print(sorted(m for m in sys.modules if m.split('.')[0] == 'ipywidgets'))")
    res = subprocess.run([sys.executable, '-W', 'ignore', '-c', code], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip().splitlines()[-1] == '[]'
