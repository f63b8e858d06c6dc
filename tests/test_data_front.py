"""The data front door: the sources registry (offline smoke for every source), `SegSet.splits`/`arrays`, and the
agreement of `arrays` with the converters it replaces (experiments, recipes.coheg, selfsl.transfer, recipes.cams)."""
import numpy as np
import pytest
from segkit.core import synth_shapes, synth_blobs, normalize_percentile, to_foreground, SPLITS
from segkit.registry import Registry, UnknownName
from segkit.data import sources as S
from segkit.data.sources import SOURCES, get_source, list_sources, register_source, from_arrays, LAYERS

@pytest.fixture(scope='module')
def nuclei(): return get_source('nuclei')

@pytest.fixture(scope='module')
def blobs():
    s = synth_blobs(8, 24, seed=0)
    return from_arrays('blobs', s.images, s.masks, s.codes, 'instance', ['train'] * 5 + ['valid'] * 3)

# --- the registry ---------------------------------------------------------------------------------------------------

def test_sources_is_a_registry_with_the_old_wrappers():
    assert isinstance(SOURCES, Registry) and SOURCES.kind == 'source'
    t = list_sources()
    assert {'nuclei', 'folder', 'synthetic_shapes'} <= set(t.index) and 'description' in t and 'smoke' not in t
    assert t.loc['nuclei', 'provenance'] == 'real, expert labels' and t.loc['nuclei', 'fetches'] == 'mnfinder==1.2.3'
    assert all(SOURCES.help(n) for n in SOURCES.names())
    with pytest.raises(UnknownName, match=r"unknown source 'nope'; known: cells3d_nuclei, dem"): get_source('nope')
    with pytest.raises(KeyError): get_source('nope')              # the CLI catches KeyError

def test_register_same_object_again_but_not_another_under_a_taken_name():
    f = SOURCES['synthetic_blobs']
    register_source('synthetic_blobs', SOURCES.help('synthetic_blobs'), **SOURCES.meta('synthetic_blobs'))(f)   # a re-run notebook
    with pytest.raises(ValueError, match='already registered'): register_source('synthetic_blobs')(lambda path=None: None)

@pytest.mark.parametrize('name', ['cells3d_nuclei', 'dem', 'dsb2018_sample', 'folder', 'geotiff', 'nuclei', 'synthetic_blobs', 'synthetic_shapes'])
def test_every_source_builds_offline(name, monkeypatch, tmp_path):
    def no_fetch(*a, **k): raise AssertionError("the smoke check must not fetch")
    monkeypatch.setattr(S, 'fetch_package', no_fetch)
    monkeypatch.setenv('SEGKIT_DATA', str(tmp_path / 'empty-cache'))
    d = SOURCES.check(name)
    assert len(d) > 0 and {'split', 'shape'} <= set(d.columns)

def test_smoke_without_declared_input_says_why(monkeypatch):
    reg = Registry('test-source', smoke=S._smoke_source)
    monkeypatch.setattr(S, 'SOURCES', reg)
    reg.add('plain', lambda path=None: None, help='x')
    assert 'not built' in reg.check('plain')

# --- splits and arrays ----------------------------------------------------------------------------------------------

def test_splits_fall_back_in_one_place(blobs, nuclei):
    sp = blobs.splits()
    assert list(sp) == list(SPLITS) and sp['test'].tolist() == sp['valid'].tolist() == [5, 6, 7]
    assert blobs.splits(fallback_test='train')['test'].tolist() == [0, 1, 2, 3, 4]
    assert len(blobs.splits(fallback_test=None)['test']) == 0
    assert len(nuclei.splits()['test']) == 15                              # a real test split is kept
    with pytest.raises(ValueError, match=r"`fallback_test`: expected one of 'train', 'valid', got 'test'"): blobs.splits('test')

@pytest.mark.parametrize('bad', [dict(split='tst'), dict(split='all'), dict(layer='fg'), dict(layer='label')])
def test_bad_split_or_layer_one_error_listing_the_choices(blobs, bad):
    arg, val = next(iter(bad.items()))
    choices = "'train', 'valid', 'test'" if arg == 'split' else ', '.join(map(repr, LAYERS))
    with pytest.raises(ValueError, match=f"`{arg}`: expected one of {choices}, got '{val}'"): blobs.arrays(**bad)

def test_layers_on_real_nuclei(nuclei):
    ims, sem = nuclei.arrays('valid', 'semantic')
    assert len(ims) == 3 and ims[0].dtype == np.float32 and 0 <= ims[0].min() and ims[0].max() <= 1
    assert nuclei.label_codes('semantic') == ('background', 'nucleus', 'micronucleus') and sem[0].max() == 2
    _, fg = nuclei.arrays('valid', 'foreground'); _, ins = nuclei.arrays('valid', 'instances')
    assert fg[0].dtype == np.int64 and np.array_equal(fg[0], (ins[0] > 0).astype(np.int64)) and ins[0].max() > 10
    assert nuclei.default_layer == 'foreground' and nuclei.label_codes('foreground') == ('background', 'nucleus')
    _, mn = nuclei.arrays([0], 'micronuclei')                              # an extra item layer, as stored
    assert np.array_equal(mn[0], nuclei[0]['micronuclei'])
    with pytest.raises(ValueError, match="`layer`: expected one of 'mask', 'semantic', 'foreground', 'instances', 'micronuclei', got 'x'"):
        nuclei.arrays('valid', 'x')

def test_arrays_shapes_classes_and_errors():
    s = synth_shapes(6, 16, seed=1)
    ds = from_arrays('shapes', s.images, s.masks, s.codes, 'semantic', ['train'] * 4 + ['valid'] * 2)
    ims, labs = ds.arrays('train', classes=['triangle', 'disk'])
    assert ds.label_codes('mask', ['triangle', 'disk']) == ('background', 'triangle', 'disk')
    assert np.array_equal(labs[0], np.select([s.masks[0] == 3, s.masks[0] == 1], [1, 2], 0))
    assert ds.arrays('valid', ndim=3)[0][0].shape == (1, 16, 16) and ds.arrays('valid', ndim=2)[0][0].shape == (16, 16)
    assert ds.arrays('valid', layer=None)[1] is None
    assert np.array_equal(ds.arrays('valid', normalize=False)[0][1], s.images[5])
    with pytest.raises(ValueError, match="`classes`: \\['ellipse'\\] not among"): ds.arrays(classes=['ellipse'])
    with pytest.raises(ValueError, match="has no instances"): ds.arrays(layer='instances')
    rgb = from_arrays('rgb', [np.zeros((3, 8, 8), np.float32)], [np.zeros((8, 8), int)], ('bg', 'x'), 'semantic', ['train'])
    with pytest.raises(ValueError, match=r"`ndim`: rgb\[0\] has shape \(3, 8, 8\)"): rgb.arrays(ndim=2)
    unl = from_arrays('u', [np.zeros((8, 8), np.float32)], None, (), 'unlabelled', ['train'])
    assert len(unl.arrays(layer=None)[0]) == 1
    with pytest.raises(ValueError, match="has no labels; use layer=None"): unl.arrays()

# --- the five converters are gone: every SegSet → arrays conversion is a call of arrays()/splits() ----------------------

def test_no_second_converter():
    "The recipes and the transfer module read sources through `SegSet.arrays` (their old converters were removed)."
    import importlib
    for mod, name in [('segkit.recipes.demo', '_semantic'), ('segkit.recipes.demo', '_splits'), ('segkit.experiments', '_semantic')]:
        assert not hasattr(importlib.import_module(mod), name), f"{mod}.{name} is back"
