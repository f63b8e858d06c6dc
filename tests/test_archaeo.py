"""Mound scenes, the chip pipeline for user mosaics, and the site classifiers."""
import json
from dataclasses import replace
import numpy as np
import pandas as pd
import pytest
import torch
from segkit.data.sources import get_source, GeoTiff
from segkit import archaeo as A
from segkit.models import classifiers as C

X0, Y0, PX = 500000.0, 4100000.0, 2.0

@pytest.fixture(scope='module')
def dems():
    d = get_source('dem')
    return [d[i]['image'] for i in range(len(d))]

def write_geotiff(path, a, tile=(64, 64)):
    import tifffile
    tifffile.imwrite(path, a, tile=tile, extratags=[(33550, 12, 3, (PX, PX, 0.0)), (33922, 12, 6, (0.0, 0.0, 0.0, X0, Y0, 0.0))])
    return path

def to_map(r, c): return X0 + c * PX, Y0 - r * PX

# --- scenes ---------------------------------------------------------------------------------------------------------

def test_scene_deterministic_and_seed_dependent(dems):
    p = A.SceneParams(size=96)
    a, b = A.mound_scene(dems, p, seed=5), A.mound_scene(dems, p, seed=5)
    for f in ('image', 'mask', 'instances', 'elevation'): assert np.array_equal(getattr(a, f), getattr(b, f))
    assert a.sites == b.sites
    assert not np.array_equal(a.image, A.mound_scene(dems, p, seed=6).image)
    g = np.random.default_rng([3, 7])
    assert np.array_equal(A.mound_scene(dems, p, seed=g).image, A.mound_scene(dems, p, seed=np.random.default_rng([3, 7])).image)

def test_mounds_raise_relief_exactly_on_the_mask(dems):
    from scipy import ndimage as ndi
    p = replace(A.SceneParams(size=96), n_buildings=(0, 0), relief_m=0.5, p_edge=0.0, radius_m=(20., 50.))
    for seed in range(6):
        s = A.mound_scene(dems, p, n_sites=2, seed=seed)
        assert s.mask.dtype == np.uint8 and set(np.unique(s.mask)) <= {0, 1}
        assert np.array_equal(s.mound_height > 0, s.mask == 1)          # exact: raised exactly where the mask is 1
        assert np.array_equal(s.instances > 0, s.mask == 1)
        ring = ndi.binary_dilation(s.mask, iterations=3) & (s.mask == 0)
        for i, m in enumerate(s.sites, 1):                                # each visible mound's top stands above the plain around the sites
            if (s.instances == i).any():
                assert s.elevation[s.instances == i].max() > np.median(s.elevation[ring]) + 0.5 * m['height_m']

def test_site_and_nosite_labels(dems):
    p = A.SceneParams(size=64)
    for seed in range(5):
        assert A.mound_scene(dems, p, n_sites=0, seed=seed).label == 0
        s = A.mound_scene(dems, p, n_sites=1, seed=seed)
        assert s.label == 1 and s.mask.sum() > 0 and s.sites[0]['visible_px'] == s.mask.sum()

def test_edge_cut_mounds_exist_and_are_visible(dems):
    p = replace(A.SceneParams(size=96), p_edge=1.0)
    cut = 0
    for seed in range(6):
        s = A.mound_scene(dems, p, n_sites=1, seed=seed)
        assert s.sites[0]['cut'] and s.mask.sum() > 0
        border = np.concatenate([s.mask[0], s.mask[-1], s.mask[:, 0], s.mask[:, -1]])
        cut += border.any()
    assert cut == 6
    # with the default knobs some (not all) mounds are cut
    flags = [m['cut'] for seed in range(20) for m in A.mound_scene(dems, A.SceneParams(size=64), seed=seed).sites]
    assert 0 < sum(flags) < len(flags)

def test_scene_shapes_and_knob_errors(dems):
    for shape in A.MOUND_SHAPES:
        s = A.mound_scene(dems, replace(A.SceneParams(size=64), shapes={shape: 1}, p_edge=0), n_sites=1, seed=0)
        assert s.sites[0]['shape'] == shape and s.mask.sum() > 0
    with pytest.raises(ValueError, match="unknown mound shapes"): A.mound_scene(dems, A.SceneParams(shapes={'barrow': 1}), n_sites=1)
    with pytest.raises(ValueError, match="lo ≤ hi"): A.mound_scene(dems, A.SceneParams(size=64, relief_m=(3, 1)))
    with pytest.raises(ValueError, match="`n_sites`"): A.mound_scene(dems, A.SceneParams(size=64), n_sites=-1)
    # cup-and-saucer: the centre is much higher than the saucer
    r = np.array([0.0, 0.6], np.float32)
    f = A.mound_profile(r, 'cup_saucer', cup=0.4, saucer=0.3)
    assert f[0] > 2 * f[1] > 0

def test_mounds_source():
    ds = get_source('mounds', n=10, size=64, seed=3)
    assert len(ds) == 10 and ds.codes == ('background', 'site') and ds.kind == 'semantic'
    assert list(ds.meta.label) == ['site' if l else 'no-site' for l in ds.labels]
    for i in range(10):
        it = ds[i]
        assert it['label'] == ds.labels[i] == int(it['mask'].any())
        assert it['image'].dtype == np.uint8 and it['image'].shape == (64, 64)
    assert set(ds.split) <= {'train', 'valid', 'test'}
    assert np.array_equal(get_source('mounds', n=10, size=64, seed=3)[4]['image'], ds[4]['image'])
    with pytest.raises(ValueError, match='p_site'): get_source('mounds', p_site=1.5)

def test_site_dls_resplits_by_seed_and_group():
    ds = get_source('mounds', n=20, size=32)
    d0, d1 = A.site_dls(ds, valid_pct=0.2, seed=0, bs=4, device='cpu'), A.site_dls(ds, valid_pct=0.2, seed=1, bs=4, device='cpu')
    assert not set(d0.train_idx) & set(d0.valid_idx)
    assert list(d0.valid_idx) != list(d1.valid_idx)
    x, y = d0.one_batch()
    assert x.shape == (4, 1, 32, 32) and y.dtype == torch.int64

# --- user data --------------------------------------------------------------------------------------------------------

@pytest.fixture
def mosaic(tmp_path):
    a = (np.arange(200 * 240).reshape(200, 240) % 251).astype(np.uint8)
    return write_geotiff(tmp_path / 'm.tif', a)

def test_csv_map_to_pixel(tmp_path, mosaic):
    rows, cols = [10.5, 150.25, 0.0], [20.0, 3.75, 239.5]
    xs, ys = zip(*[to_map(r, c) for r, c in zip(rows, cols)])
    pd.DataFrame(dict(x=xs, y=ys, label=['site', 'no-site', '1'], name=['a', 'b', 'c'])).to_csv(tmp_path / 'p.csv', index=False)
    p = A.read_points(tmp_path / 'p.csv', mosaic, id='name')
    np.testing.assert_allclose(p.row, rows); np.testing.assert_allclose(p.col, cols)
    assert p.label.tolist() == [1, 0, 1] and p.id.tolist() == ['a', 'b', 'c']
    g = GeoTiff(mosaic)
    np.testing.assert_allclose(A.pixel_to_map(p.row, p.col, g.transform), (xs, ys))
    pd.DataFrame(dict(r=rows, c=cols, kind=[1, 0, 0])).to_csv(tmp_path / 'q.csv', index=False)
    q = A.read_points(tmp_path / 'q.csv', mosaic, coords='pixel', row='r', col='c', label='kind')
    np.testing.assert_allclose(q.row, rows) and np.testing.assert_allclose(q.col, cols)

def test_csv_bad_input(tmp_path, mosaic):
    (tmp_path / 'nox.csv').write_text('east,y,label\n1,2,site\n')
    with pytest.raises(ValueError, match=r"nox.csv: missing column\(s\) \['x'\]"): A.read_points(tmp_path / 'nox.csv', mosaic)
    (tmp_path / 'lab.csv').write_text(f'x,y,label\n{X0 + 10},{Y0 - 10},maybe\n')
    with pytest.raises(ValueError, match=r"lab.csv: column 'label' has values \['maybe'\]"): A.read_points(tmp_path / 'lab.csv', mosaic)
    (tmp_path / 'nan.csv').write_text(f'x,y,label\n{X0 + 10},,site\n')
    with pytest.raises(ValueError, match=r"nan.csv: non-numeric or empty coordinates"): A.read_points(tmp_path / 'nan.csv', mosaic)
    (tmp_path / 'out.csv').write_text(f'x,y,label\n{X0 + 10},{Y0 - 10},site\n{X0 - 10},{Y0 - 10},site\n{X0 + 10},{Y0 - 1000},site\n')
    with pytest.raises(ValueError, match=r"2 of 3 points lie outside the mosaic m.tif \(200×240 pixels\)"): A.read_points(tmp_path / 'out.csv', mosaic)
    assert len(A.read_points(tmp_path / 'out.csv', mosaic, outside='skip')) == 1
    with pytest.raises(ValueError, match="`mosaic`: needed"): A.read_points(tmp_path / 'out.csv')
    with pytest.raises(FileNotFoundError, match="`csv`"): A.read_points(tmp_path / 'missing.csv', mosaic)
    with pytest.raises(ValueError, match="outside the mosaic"): A.extract_chip(mosaic, 250, 10, size=20)

def test_geojson_square_rasterises_to_hand_computed_mask(tmp_path, mosaic):
    ring = [to_map(40, 60), to_map(40, 70), to_map(52, 70), to_map(52, 60), to_map(40, 60)]   # rows 40..52, cols 60..70
    gj = {'type': 'FeatureCollection', 'features': [{'type': 'Feature', 'properties': {}, 'geometry': {'type': 'Polygon', 'coordinates': [ring]}}]}
    (tmp_path / 's.geojson').write_text(json.dumps(gj))
    polys = A.read_polygons(tmp_path / 's.geojson', mosaic)
    m = A.rasterize_polygons(polys, (200, 240))
    want = np.zeros((200, 240), np.uint8); want[40:52, 60:70] = 1
    assert np.array_equal(m, want)
    # the same square in a chip whose top-left is (26, 45)
    c = A.extract_chip(mosaic, 46, 65, size=40, polygons=polys)
    assert c.origin == (26, 45) and np.array_equal(c.mask, want[26:66, 45:85])
    # pixel coordinates and MultiPolygons with holes
    mp = {'type': 'MultiPolygon', 'coordinates': [[[[0, 0], [10, 0], [10, 10], [0, 10], [0, 0]], [[2, 2], [4, 2], [4, 4], [2, 4], [2, 2]]],
                                                  [[[20, 20], [22, 20], [22, 21], [20, 21], [20, 20]]]]}
    m2 = A.rasterize_polygons(A.read_polygons(mp, coords='pixel'), (30, 30))
    assert m2.sum() == 100 - 4 + 2 and m2[3, 3] == 0 and m2[20, 21] == 1

def test_geojson_bad_input(tmp_path, mosaic):
    (tmp_path / 'pt.geojson').write_text(json.dumps({'type': 'FeatureCollection', 'features': [
        {'type': 'Feature', 'geometry': {'type': 'Point', 'coordinates': [X0, Y0]}}]}))
    with pytest.raises(ValueError, match=r"pt.geojson: 1 features are not polygons, e.g. \[\(0, 'Point'\)\]"): A.read_polygons(tmp_path / 'pt.geojson', mosaic)
    with pytest.raises(ValueError, match="no Polygon or MultiPolygon"): A.read_polygons(tmp_path / 'pt.geojson', mosaic, other='skip')
    (tmp_path / 'bad.geojson').write_text('{not json')
    with pytest.raises(ValueError, match="bad.geojson: not valid JSON"): A.read_polygons(tmp_path / 'bad.geojson', mosaic)
    with pytest.raises(ValueError, match="`mosaic`: needed"): A.read_polygons({'type': 'Polygon', 'coordinates': [[[0, 0], [1, 0], [1, 1], [0, 0]]]})

def test_chip_stretch_and_edges(tmp_path, mosaic):
    c = A.extract_chip(mosaic, 100, 120, size=50, pct=(0, 100))
    assert c.image.dtype == np.uint8 and c.image.min() == 0 and c.image.max() == 255 and c.valid.all()
    assert c.point == (25, 25)
    p = A.extract_chip(mosaic, 3, 3, size=20)                 # pad: 7 rows/cols outside, zeros, excluded from the stretch
    assert (~p.valid).sum() == 400 - 13 * 13 and (p.image[~p.valid] == 0).all() and p.image[p.valid].max() == 255
    s = A.extract_chip(mosaic, 3, 3, size=20, edge='shift')
    assert s.origin == (0, 0) and s.point == (3, 3) and s.valid.all()
    with pytest.raises(ValueError, match="leaves the mosaic"): A.extract_chip(mosaic, 3, 3, size=20, edge='error')

def test_augmentation_gives_40_images_per_point():
    chip = np.random.default_rng(0).integers(0, 256, (120, 120)).astype(np.uint8)
    mask = np.zeros((120, 120), np.uint8); mask[50:70, 50:70] = 1
    ims, mks, tab = A.augment_chip(chip, mask, seed=1, crop=48, swirl_radius=48)
    assert ims.shape == (40, 48, 48) and mks.shape == (40, 48, 48) and ims.dtype == np.uint8
    assert (tab.groupby(['rotation', 'swirl']).size() == 5).all() and sorted(set(tab.rotation)) == [0, 90, 180, 270]
    sw = tab.swirl[tab.swirl != 0]
    assert len(sw) == 20 and (sw.abs() <= 2).all() and sw.nunique() == 4
    # unswirled, unrotated centre crop is the chip's centre; the 'nw' crop shows the point at a quarter of the crop
    assert np.array_equal(ims[0], chip[36:84, 36:84]) and np.array_equal(ims[1], chip[48:96, 48:96])
    assert mks[1][2:22, 2:22].all() and mks[0][14:34, 14:34].all()
    assert np.array_equal(ims[10], np.rot90(chip)[36:84, 36:84])
    # same seed, same strengths; the thesis' sizes are the defaults
    assert A.augment_chip(chip, seed=1, crop=48, swirl_radius=48)[2].equals(tab)
    with pytest.raises(ValueError, match="do not fit"): A.augment_chip(chip)          # 400² crops from a 120² chip
    with pytest.raises(ValueError, match="square"): A.augment_chip(chip[:, :100], crop=40)

def test_sites_source_end_to_end(tmp_path, mosaic):
    pts = pd.DataFrame([(*to_map(60, 60), 'site'), (*to_map(150, 180), 'no-site'), (*to_map(100, 100), 'site')], columns=['x', 'y', 'label'])
    pts.to_csv(tmp_path / 'p.csv', index=False)
    ring = [to_map(50, 50), to_map(50, 70), to_map(70, 70), to_map(70, 50), to_map(50, 50)]
    (tmp_path / 's.geojson').write_text(json.dumps({'type': 'Polygon', 'coordinates': [ring]}))
    ds = get_source('sites', path=mosaic, points=tmp_path / 'p.csv', polygons=tmp_path / 's.geojson', chip=64, crop=32, swirl_radius=32)
    assert len(ds) == 120 and ds.kind == 'semantic' and ds[0]['image'].shape == (32, 32)
    assert [ds[i]['label'] for i in (0, 40, 80)] == [1, 0, 1]
    assert ds[0]['mask'].sum() > 0 and ds[40]['mask'].sum() == 0
    for p in range(3): assert len(set(ds.split[ds.meta.point == p])) == 1          # the split is by point
    u = get_source('sites', path=mosaic, points=tmp_path / 'p.csv', chip=64, crop=32, swirl_radius=32)
    assert u.kind == 'unlabelled' and u[5]['mask'] is None and np.array_equal(u[5]['image'], ds[5]['image'])
    dls = A.site_dls(u, valid_pct=0.34, seed=0, bs=8, device='cpu')
    assert set(u.meta.point[dls.valid_idx]).isdisjoint(u.meta.point[dls.train_idx])

# --- classifiers ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize('arch', ['vgg16', 'resnet34', 'densenet121'])
def test_classifier_one_channel_shapes(arch):
    kw = {'hidden': 16} if arch.startswith('vgg') else {}
    m = C.site_classifier(arch, **kw).eval()
    with torch.no_grad(): out = m(torch.randn(2, 1, 64, 64))
    assert out.shape == (2, 2)
    first = m.get_submodule(C.ARCHS[arch].first_conv)
    assert first.in_channels == 1 and C.conv_layer_names(m)[0] == C.ARCHS[arch].first_conv
    for name in C.ARCHS[arch].blocks + (C.ARCHS[arch].cam_layer,): m.get_submodule(name)
    with pytest.raises(RuntimeError): m(torch.randn(1, 3, 64, 64))

def test_classifier_weights_sum_rgb_filters(tmp_path):
    import torchvision
    rgb = torchvision.models.resnet18(weights=None)               # 1000 classes, 3 channels
    torch.save(rgb.state_dict(), tmp_path / 'w.pth')
    m = C.site_classifier('resnet18', weights_path=tmp_path / 'w.pth', verbose=False)
    assert torch.allclose(m.conv1.weight, rgb.conv1.weight.sum(1, keepdim=True))
    assert torch.equal(m.layer1[0].conv1.weight, rgb.layer1[0].conv1.weight) and m.fc.out_features == 2
    m3 = C.site_classifier('resnet18', n_in=4, weights_path=tmp_path / 'w.pth', verbose=False)
    assert m3.conv1.weight.shape[1] == 4
    assert torch.allclose(m3.conv1.weight.sum(1), rgb.conv1.weight.sum(1), atol=1e-6)   # same response to a constant image
    torch.save(torchvision.models.resnet34(weights=None).state_dict(), tmp_path / 'r34.pth')
    with pytest.raises(ValueError, match="weights do not fit"): C.site_classifier('resnet18', weights_path=tmp_path / 'r34.pth', verbose=False)

def test_classifier_bad_input():
    with pytest.raises(KeyError, match="unknown architecture 'vgg19'; known: vgg11, vgg16"): C.site_classifier('vgg19')
    with pytest.raises(ValueError, match="not both"): C.site_classifier('resnet18', pretrained=True, weights_path='x.pth')
    with pytest.raises(FileNotFoundError, match="`weights_path`"): C.site_classifier('resnet18', weights_path='/nonexistent.pth')
    with pytest.raises(KeyError, match="unknown architectures"): C.train_site_classifiers(lambda s: None, archs=('lenet',))

def test_site_metrics_and_training_table():
    from fastai.data.core import DataLoaders
    from fastai.data.load import DataLoader
    torch.manual_seed(0)
    xs = torch.rand(8, 1, 16, 16); ys = torch.tensor([0, 1] * 4)
    xs[ys == 1] += 1.0                                              # separable
    dls = DataLoaders(DataLoader(list(zip(xs, ys)), bs=4, shuffle=True), DataLoader(list(zip(xs, ys)), bs=8), device='cpu')
    state = torch.random.get_rng_state()
    res = C.train_site_classifiers(lambda s: dls, archs=('resnet18',), seeds=(0, 1), epochs=1, patience=1, keep_models=True)
    assert torch.equal(state, torch.random.get_rng_state())         # the caller's RNG is untouched
    assert list(res.runs.columns[:4]) == ['arch', 'seed', 'precision', 'recall'] and len(res.runs) == 2
    assert (res.runs.n_valid == 8).all() and set(res.models) == {('resnet18', 0), ('resnet18', 1)}
    assert res.table.index.tolist() == ['resnet18'] and res.table.n_seeds.tolist() == [2]
    m = C.SiteCounts('precision'); m.reset()
    learn = type('L', (), {'pred': torch.tensor([[0., 1.], [0., 1.], [1., 0.]]), 'y': torch.tensor([1, 0, 1])})()
    m.accumulate(learn)
    assert (m.tp, m.fp, m.fn) == (1, 1, 1) and m.value == 0.5
