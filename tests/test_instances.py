"""Instance post-processors: the registry contract, each method's properties, and the metric built by name."""
from types import SimpleNamespace
import numpy as np
import pytest
import torch
from skimage.measure import label
from segkit.core import synth_blobs
from segkit.metrics.instance import InstanceMetric, instance_scores
from segkit.instances.postprocess import (POSTPROCESSORS, components, distance_watershed, get_postprocessor, label_maps,
                                          instance_metric, as_maps, foreground_prob)

def _disks(centres, r=11, shape=(40, 80)):
    yy, xx = np.mgrid[:shape[0], :shape[1]]
    return np.any([((yy - cy) ** 2 + (xx - cx) ** 2) < r * r for cy, cx in centres], 0)

@pytest.mark.parametrize('name', POSTPROCESSORS.names())
def test_every_postprocessor_passes_its_smoke_check(name):
    out = POSTPROCESSORS.check(name)
    assert out.ndim == 2 and np.issubdtype(out.dtype, np.integer)
    assert POSTPROCESSORS.help(name) and POSTPROCESSORS.meta(name)['needs'] in ('probabilities', 'boundary', 'boundary, nuclei', 'distances', 'embeddings')

@pytest.mark.parametrize('name', [n for n in POSTPROCESSORS.names() if POSTPROCESSORS.meta(n)['needs'] == 'probabilities'])
def test_every_probability_postprocessor_follows_the_contract(name):
    fg = _disks([(20, 20), (20, 60)]).astype(np.float32)
    for m in (fg, np.stack([1 - fg, fg]), torch.from_numpy(np.stack([1 - fg, fg]))):
        lab = POSTPROCESSORS[name](m)
        assert lab.shape == fg.shape and lab.min() == 0
        assert np.array_equal(lab > 0, fg > 0.5)                        # these two keep exactly the foreground
        assert len(np.unique(lab)) - 1 == 2                             # two separate disks: two objects

def test_unknown_name_lists_the_known_ones():
    with pytest.raises(KeyError, match="unknown instance post-processor 'mutex'; known: components, distance_watershed, dtws, gasp, hdbscan, lifted_multicut, meanshift, multicut, mws, mws_embedding, scherr"):
        get_postprocessor('mutex')
    with pytest.raises(TypeError, match="registered name or a callable"): get_postprocessor(3)

def test_components_agrees_with_skimage():
    m = synth_blobs(3, 64, seed=2).masks > 0
    for f in m:
        assert np.array_equal(components(f.astype(float)), label(f))
        assert np.array_equal(components(np.stack([~f, f]).astype(float)), label(f))
    p = np.array([[0.2, 0.6], [0.6, 0.2]])
    assert components(p).max() == 1 and components(p, thresh=0.7).max() == 0      # 8-connectivity; thresh is used
    three = np.zeros((3, 4, 4)); three[0] = 1; three[2, :2, :2] = 2                 # class 2 wins on the corner
    assert components(three).sum() == 4

def test_distance_watershed_splits_touching_disks_and_keeps_foreground():
    fg = _disks([(20, 20), (20, 38)])
    lab = distance_watershed(fg.astype(float), min_distance=5)
    assert len(np.unique(lab)) - 1 == 2 and np.array_equal(lab > 0, fg)
    assert components(fg.astype(float)).max() == 1
    assert lab[20, 20] != lab[20, 38] and len(np.unique(lab[:, :26])) == len(np.unique(lab[:, 32:])) == 2   # one disk each side
    assert distance_watershed(np.zeros((8, 8))).max() == 0
    with pytest.raises(ValueError, match=r'\(H, W\)'): distance_watershed(np.zeros((1, 8, 8)))
    # class maps use 1 − p(background): three classes, foreground split over two of them
    p = np.stack([1 - fg, 0.6 * fg, 0.4 * fg]).astype(float)
    assert np.array_equal(distance_watershed(p, min_distance=5), lab)

def test_maps_contract_errors():
    with pytest.raises(ValueError, match="C ≥ 2"): as_maps(np.zeros((2, 3, 4, 5)))
    assert foreground_prob(torch.ones(3, 2, 2) / 3).shape == (2, 2)

def test_label_maps_and_bound_options():
    fg = np.stack([_disks([(20, 20), (20, 38)]), _disks([(20, 60)])]).astype(float)
    out = label_maps(fg, 'distance_watershed', min_distance=5)
    assert out.shape == (2, 40, 80) and [len(np.unique(o)) - 1 for o in out] == [2, 1]
    assert np.array_equal(label_maps(fg, components), np.stack([components(f) for f in fg]))

def test_instance_metric_by_name_matches_direct_scores():
    gt = synth_blobs(2, 64, n_objects=(6, 6), seed=5).masks
    logits = torch.stack([torch.from_numpy(gt == 0), torch.from_numpy(gt > 0)], 1).float() * 6 - 3
    learn = SimpleNamespace(pred=logits, y=torch.from_numpy(gt))
    for name, kw in [('components', None), ('distance_watershed', dict(min_distance=4))]:
        m = instance_metric('f1', name, post_kw=kw); m.reset(); m.accumulate(learn)
        f = get_postprocessor(name, **(kw or {}))
        probs = torch.softmax(logits, 1).numpy()
        want = np.mean([instance_scores(t, f(p))['f1'] for p, t in zip(probs, gt)])
        assert m.value == pytest.approx(want) and m.name == 'f1'
    # one output channel: a sigmoid foreground probability (H, W) reaches the post-processor
    one = SimpleNamespace(pred=logits[:, 1:] - logits[:, :1], y=torch.from_numpy(gt))
    m = instance_metric('f1', 'components'); m.reset(); m.accumulate(one)
    assert m.value == pytest.approx(np.mean([instance_scores(t, label(t > 0))['f1'] for t in gt]))

def test_instance_metric_needs_a_callable():
    with pytest.raises(TypeError, match="instance_metric"): InstanceMetric('aji_plus')


# ---------------------------------------------------------------- Scherr et al. (2020) distance targets and post-processing
from segkit.instances.postprocess import scherr_targets, scherr_postprocess

@pytest.fixture(scope='module')
def real_nuclei():
    from segkit.data.sources import get_source
    return get_source('nuclei').arrays('test')[1], get_source('dsb2018_sample').arrays('test')[1]

def test_scherr_oracle_recovers_real_nuclei(real_nuclei):
    "Exact targets through the post-processing (P_cell 0.05, P_seed 0.37): mean AJI⁺ ≥ 0.95, every image ≥ 0.90."
    nuclei, dsb = real_nuclei
    aji = [instance_scores(g, scherr_postprocess(scherr_targets(g)))['aji_plus'] for g in nuclei]
    print('Scherr oracle AJI+ on the nuclei test split:', np.round(aji, 3), 'mean', round(float(np.mean(aji)), 4))
    assert np.mean(aji) >= 0.95 and min(aji) >= 0.90
    d = instance_scores(dsb[0], scherr_postprocess(scherr_targets(dsb[0])))['aji_plus']
    print('dsb2018_sample:', round(d, 4))
    assert d >= 0.90

def _per_instance_reference(lbl, radius=20.):
    "Per-object loop reference of the cell distance and the raw neighbour distance D (tests only)."
    from scipy import ndimage
    dc, D = np.zeros(lbl.shape), np.full(lbl.shape, radius)
    for i in np.unique(lbl)[1:]:
        m = lbl == i
        d = ndimage.distance_transform_edt(m); dc[m] = d[m] / d[m].max()
        others = (lbl > 0) & ~m
        if others.any(): D[m] = np.minimum(ndimage.distance_transform_edt(~others)[m], radius)
    return dc, D

def test_scherr_targets_equal_a_per_object_reference(real_nuclei):
    g = real_nuclei[0][1][100:300, 100:300].astype(np.int32)
    t = scherr_targets(g, closing=False, power=1.)
    dc, D = _per_instance_reference(g)
    np.testing.assert_allclose(t[0], dc, atol=1e-5)
    for i in np.unique(g)[1:]:                              # neighbour distance: (max D − D) normalised within each instance
        m = g == i
        v = D[m].max() - D[m]
        want = v / v.max() if v.max() > 0 else v
        np.testing.assert_allclose(t[1][m], want, atol=1e-5)

def test_scherr_target_properties_and_3d(real_nuclei):
    g = real_nuclei[0][2].astype(np.int32)
    t = scherr_targets(g)
    assert t.min() >= 0 and t.max() <= 1 and (t[:, g == 0] == 0).all()
    from scipy import ndimage
    mx = ndimage.maximum(t[0], g, np.unique(g)[1:])
    np.testing.assert_allclose(mx, 1, atol=1e-6)
    _, D = _per_instance_reference(g)
    ids = np.unique(g)[1:]
    isolated = [i for i in ids if D[g == i].min() >= 20]
    assert 0 < len(isolated) < len(ids)
    for i in isolated: assert t[1][g == i].max() == 0
    vol = np.stack([g[:64, :64]] * 3)
    t3 = scherr_targets(vol)
    assert t3.shape == (2, 3, 64, 64)
    assert scherr_postprocess(t3).shape == vol.shape

def test_scherr_bad_input():
    with pytest.raises(ValueError, match="`lbl`: expected an integer"): scherr_targets(np.zeros((4, 4)))
    with pytest.raises(ValueError, match="`lbl`: expected non-negative"): scherr_targets(-np.ones((4, 4), int))
    with pytest.raises(ValueError, match=r"`maps`: expected \(2, H, W\)"): scherr_postprocess(np.zeros((3, 8, 8)))
    with pytest.raises(ValueError, match="`p_seed`: expected a threshold in \\(0, 1\\)"): scherr_postprocess(np.zeros((2, 8, 8)), p_seed=1.5)
    with pytest.raises(ValueError, match="`border`"): scherr_postprocess(np.zeros((2, 8, 8)), border='cubic')
