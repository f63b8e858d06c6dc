"Overlap and certainty data (issue 22): offline smoke of both sources, seeded scenes, split-pure crops, rule tags."
import numpy as np
import pandas as pd
import pytest
from segkit.data.overlap import (nuclei_overlap, nuclei_certainty, nucleus_crops, overlap_scene, touching_ids, degrade_objects,
                                 _overlap_smoke, OVERLAP_LEVELS)
from segkit.data.sources import SOURCES, _nuclei_smoke

def test_sources_registered_with_provenance_and_smoke():
    for n in ('nuclei_overlap', 'nuclei_certainty'):
        assert n in SOURCES.names() or SOURCES.entry(n)
        SOURCES.check(n)
    assert 'semi-synthetic from real objects' in SOURCES.meta('nuclei_overlap')['provenance']

def test_overlap_source_on_smoke_copy(tmp_path):
    ds = nuclei_overlap(**_overlap_smoke(tmp_path))
    assert list(ds.split) == ['train'] * 6 + ['valid'] * 6
    it = ds[7]
    assert it['instances'].ndim == 3 and it['instances'].shape[1:] == it['image'].shape
    assert (it['mask'] > 0).sum() == it['instances'].any(0).sum()
    nuc_split = {0: 'train', 1: 'valid'}                           # the smoke copy: item 0 train, item 1 valid
    for i in range(len(ds)): assert all(nuc_split[k] == ds.split[i] for k in ds[i]['crop_items'])
    again = nuclei_overlap(**_overlap_smoke(tmp_path / 'again'))[7]
    np.testing.assert_array_equal(again['image'], it['image'])    # seeded
    assert ds.meta.provenance.str.contains('semi-synthetic from real objects').all()

def test_levels_steer_overlap():
    pool = [dict(patch=np.full((9, 7), .5, np.float32), mask=np.ones((9, 7), bool), id=1)]
    cov = lambda lv: np.mean([(overlap_scene(pool, lv, 48, (4, 4), seed=[0, s])['instances'].sum(0) > 1).sum() for s in range(20)])
    c = [cov(lv) for lv in range(len(OVERLAP_LEVELS))]
    assert c[0] == 0 and c[-1] > c[1] > 0
    with pytest.raises(ValueError, match='`level`'): overlap_scene(pool, 9)

def test_crops_only_isolated_non_border():
    lb = np.zeros((30, 30), np.int32); lb[2:8, 2:8] = 1; lb[2:8, 9:14] = 2; lb[15:22, 15:22] = 3; lb[26:30, 5:9] = 4
    cr = nucleus_crops(np.where(lb > 0, 50., 5.), lb, pad=2, min_area=4)
    assert [c['id'] for c in cr] == [3]
    with pytest.raises(ValueError, match='`pad`'): nucleus_crops(lb, lb, pad=0)

def test_certainty_tags_follow_the_rule(tmp_path):
    lb = np.zeros((30, 30), np.int32); lb[2:8, 2:8] = 1; lb[2:8, 8:12] = 2; lb[15:22, 15:22] = 3
    assert list(touching_ids(lb)) == [1, 2]
    img = np.where(lb > 0, 100., 10.).astype(np.float32)
    d = degrade_objects(img, lb, [3], sigma=2, contrast=(.4, .4))
    np.testing.assert_array_equal(d[lb == 1], img[lb == 1]); assert d[lb == 3].mean() < 60
    ds = nuclei_certainty(**_nuclei_smoke(tmp_path), fraction=1.0)
    ob = ds[0]['objects']
    assert list(ob.reason) == ['blur'] and not ob.certain.any() and set(np.unique(ds[0]['certainty'])) == {0, 1}
    assert nuclei_certainty(**_nuclei_smoke(tmp_path / 'b'), fraction=0.0)[0]['objects'].certain.all()
    with pytest.raises(ValueError, match='`fraction`'): nuclei_certainty(**_nuclei_smoke(tmp_path / 'c'), fraction=2)
