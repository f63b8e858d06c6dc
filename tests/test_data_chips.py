"""Chips of user mosaics, the thesis' augmentation, the `sites` source and the site/no-site DataLoaders."""
import json
import numpy as np
import pandas as pd
import pytest
import torch
from segkit.data.sources import get_source
from segkit.data.gis import read_polygons
from segkit.data.chips import extract_chip, augment_chip, site_dls, sites
from test_data_gis import X0, Y0, to_map, write_geotiff, mosaic  # noqa: F401 (fixture)

def test_chip_of_a_polygon_and_outside_points(tmp_path, mosaic):
    ring = [to_map(40, 60), to_map(40, 70), to_map(52, 70), to_map(52, 60), to_map(40, 60)]   # rows 40..52, cols 60..70
    polys = read_polygons({'type': 'Polygon', 'coordinates': [ring]}, mosaic)
    want = np.zeros((200, 240), np.uint8); want[40:52, 60:70] = 1
    c = extract_chip(mosaic, 46, 65, size=40, polygons=polys)               # the square in a chip whose top-left is (26, 45)
    assert c.origin == (26, 45) and np.array_equal(c.mask, want[26:66, 45:85])
    with pytest.raises(ValueError, match="outside the mosaic"): extract_chip(mosaic, 250, 10, size=20)

def test_chip_stretch_and_edges(tmp_path, mosaic):
    c = extract_chip(mosaic, 100, 120, size=50, pct=(0, 100))
    assert c.image.dtype == np.uint8 and c.image.min() == 0 and c.image.max() == 255 and c.valid.all()
    assert c.point == (25, 25)
    p = extract_chip(mosaic, 3, 3, size=20)                 # pad: 7 rows/cols outside, zeros, excluded from the stretch
    assert (~p.valid).sum() == 400 - 13 * 13 and (p.image[~p.valid] == 0).all() and p.image[p.valid].max() == 255
    s = extract_chip(mosaic, 3, 3, size=20, edge='shift')
    assert s.origin == (0, 0) and s.point == (3, 3) and s.valid.all()
    with pytest.raises(ValueError, match="leaves the mosaic"): extract_chip(mosaic, 3, 3, size=20, edge='error')

def test_augmentation_gives_40_images_per_point():
    chip = np.random.default_rng(0).integers(0, 256, (120, 120)).astype(np.uint8)
    mask = np.zeros((120, 120), np.uint8); mask[50:70, 50:70] = 1
    ims, mks, tab = augment_chip(chip, mask, seed=1, crop=48, swirl_radius=48)
    assert ims.shape == (40, 48, 48) and mks.shape == (40, 48, 48) and ims.dtype == np.uint8
    assert (tab.groupby(['rotation', 'swirl']).size() == 5).all() and sorted(set(tab.rotation)) == [0, 90, 180, 270]
    sw = tab.swirl[tab.swirl != 0]
    assert len(sw) == 20 and (sw.abs() <= 2).all() and sw.nunique() == 4
    # unswirled, unrotated centre crop is the chip's centre; the 'nw' crop shows the point at a quarter of the crop
    assert np.array_equal(ims[0], chip[36:84, 36:84]) and np.array_equal(ims[1], chip[48:96, 48:96])
    assert mks[1][2:22, 2:22].all() and mks[0][14:34, 14:34].all()
    assert np.array_equal(ims[10], np.rot90(chip)[36:84, 36:84])
    # same seed, same strengths; the thesis' sizes are the defaults
    assert augment_chip(chip, seed=1, crop=48, swirl_radius=48)[2].equals(tab)
    with pytest.raises(ValueError, match="do not fit"): augment_chip(chip)          # 400² crops from a 120² chip
    with pytest.raises(ValueError, match="square"): augment_chip(chip[:, :100], crop=40)

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
    dls = site_dls(u, valid_pct=0.34, seed=0, bs=8, device='cpu')
    assert set(u.meta.point[dls.valid_idx]).isdisjoint(u.meta.point[dls.train_idx])

def test_site_dls_resplits_by_seed_and_group():
    ds = get_source('mounds', n=20, size=32)
    d0, d1 = site_dls(ds, valid_pct=0.2, seed=0, bs=4, device='cpu'), site_dls(ds, valid_pct=0.2, seed=1, bs=4, device='cpu')
    assert not set(d0.train_idx) & set(d0.valid_idx)
    assert list(d0.valid_idx) != list(d1.valid_idx)
    x, y = d0.one_batch()
    assert x.shape == (4, 1, 32, 32) and y.dtype == torch.int64

def test_offline_smoke_input(tmp_path):
    "The registry's smoke input builds the `sites` source from a tiny written mosaic."
    from segkit.data.chips import _sites_smoke
    ds = sites(**_sites_smoke(tmp_path))
    assert len(ds) == 80 and ds.kind == 'semantic' and ds[0]['image'].shape == (16, 16)
    assert ds[0]['mask'].sum() > 0 and ds[0]['label'] == 1 and ds[40]['label'] == 0
