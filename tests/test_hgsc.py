"""The `hgsc_nuclei` source (histolytics 0.3.0 wheel): instance counts, type pixel counts, band disjointness, the type mapping."""
import json
from pathlib import Path
import numpy as np
import pytest
from segkit.data.hgsc import hgsc_nuclei, hgsc_scene, band_windows, HGSC_CODES, _hgsc_smoke
from segkit.data.sources import SOURCES

ROOT = Path(__file__).resolve().parents[1]

@pytest.fixture(scope='module')
def scene(): return hgsc_scene()

def test_scene_counts(scene):
    inst, typ = scene['instances'], scene['types']
    assert inst.shape == typ.shape == (1500, 1500) and scene['image'].shape == (3, 1500, 1500)
    assert len(np.unique(inst)) - 1 == 1294
    assert np.bincount(typ.ravel(), minlength=4)[1:].tolist() == [101153, 134904, 180313]
    pairs = np.unique(np.stack([inst[inst > 0], typ[inst > 0]]), axis=1)        # every instance pixel carries a type
    assert (pairs[1] > 0).all()

def test_bands_disjoint_and_counts(scene):
    ds = hgsc_nuclei()
    tr, va, te = (ds.indices(s) for s in ('train', 'valid', 'test'))
    assert (len(tr), len(va), len(te)) == (252, 1, 1)
    cover = np.zeros((1500, 1500), np.int64)
    for i in tr:
        a, b = ds.meta.loc[i, 'offset'], ds.meta.loc[i, 'across']
        cover[a:a + 256, b:b + 256] = 1
        assert np.array_equal(ds[i]['semantic'], scene['types'][a:a + 256, b:b + 256])
    assert cover[900:].sum() == 0 and cover[:900].all()          # windows cover the training band only
    counts = {s: np.bincount(ds[ds.indices(s)[0]]['semantic'].ravel(), minlength=4)[1:].tolist() for s in ('valid', 'test')}
    assert counts == {'valid': [20352, 18752, 42081], 'test': [32814, 39772, 7519]}
    assert len(np.unique(ds[te[0]]['mask'])) - 1 == len(np.unique(scene['instances'][1200:])) - 1
    assert ds.describe()['labels'].str.contains('model-made').all()

def test_cols_axis(scene):
    ds = hgsc_nuclei(band_axis='cols')
    te = ds[ds.indices('test')[0]]
    assert te['semantic'].shape == (1500, 300)
    assert np.array_equal(te['semantic'], scene['types'][:, 1200:])
    assert ds[0]['image'].shape == (3, 256, 256)

def test_bad_input(tmp_path):
    with pytest.raises(ValueError, match='`train_end`, `valid_end`'): hgsc_nuclei(train_end=1300, valid_end=1200)
    with pytest.raises(ValueError, match='band_axis'): hgsc_nuclei(band_axis='diag')
    with pytest.raises(FileNotFoundError, match='`path`'): hgsc_scene(tmp_path)
    with pytest.raises(ValueError, match='`window`'): band_windows(100, 1500, window=256)

def test_smoke(tmp_path):
    ds = hgsc_nuclei(**_hgsc_smoke(tmp_path))
    assert len(ds.indices('train')) == len(band_windows(20, 40, 8, 4)) and ds.label_codes('semantic') == HGSC_CODES
    assert SOURCES.meta('hgsc_nuclei')['provenance'].startswith('real, model-made')
    SOURCES.check('hgsc_nuclei')   # the registry's offline smoke build

def test_type_mapping_against_polygons():
    pytest.importorskip('pyarrow'); pytest.importorskip('shapely')
    import sys; sys.path.insert(0, str(ROOT / 'nbs/results/fewshot'))
    from make_hgsc_type_check import type_check
    got = type_check()
    assert got == json.loads((ROOT / 'nbs/results/fewshot/hgsc_type_check.json').read_text())
    assert all(row[k] == sum(row.values()) for k, row in got['table'].items())
