"`segkit.data.nuclei_sets`: the semi-synthetic `nuclei_tissue` set (exact labels, seeded, weak walls really weaker) and the real `epitools_membrane`."
import numpy as np
import pytest
from segkit.data.nuclei_sets import tissue_from_nuclei, wall_pairs, nuclei_tissue, epitools_membrane, TISSUE_PRESETS, TISSUE_PROVENANCE

@pytest.fixture(scope='module')
def real():
    from segkit.data.sources import get_source
    s = get_source('nuclei')
    return s.label(31)[:384, :384].astype(np.int32), s.image(31)[:384, :384]

def test_cells_tessellate_around_real_nuclei(real):
    nuc, img = real
    t = tissue_from_nuclei(nuc, img, seed=1)
    assert set(np.unique(t.cells)) == set(np.unique(nuc))
    np.testing.assert_array_equal(t.cells[nuc > 0], nuc[nuc > 0])
    from scipy import ndimage
    for i in np.unique(t.cells)[1:][:20]: assert ndimage.label(t.cells == i)[1] == 1      # each cell is one piece

def test_weak_walls_are_weaker_and_seeded(real):
    nuc, _ = real
    t = tissue_from_nuclei(nuc, seed=2, noise=(1e6, 0.0), gap_fraction=.5, gap_strength=.2)
    wall, pairs = wall_pairs(t.cells)
    key = np.sort(pairs, 1)
    weak = (key[:, None, :] == t.weak[None]).all(-1).any(1)
    inner = key[:, 0] > 0
    assert weak.any() and (inner & ~weak).any()
    assert t.image[wall][weak].mean() < 0.75 * t.image[wall][inner & ~weak].mean()
    np.testing.assert_array_equal(tissue_from_nuclei(nuc, seed=2).image, tissue_from_nuclei(nuc, seed=2).image)
    assert not np.array_equal(tissue_from_nuclei(nuc, seed=2).image, tissue_from_nuclei(nuc, seed=3).image)

def test_source_follows_nuclei_split_and_states_provenance():
    from segkit.data.sources import get_source
    ts, src = nuclei_tissue(preset='weak_walls'), get_source('nuclei')
    assert list(ts.split) == list(src.split) and ts.n == src.n
    assert (ts.meta.provenance == TISSUE_PROVENANCE).all() and (ts.meta.preset == 'weak_walls').all()
    np.testing.assert_array_equal(ts.label(40, 'nuclei'), src.label(40))

def test_epitools_membrane_is_real_and_unlabelled():
    e = epitools_membrane()
    assert e.kind == 'unlabelled' and e.image(0).shape == (199, 206)
    assert epitools_membrane(volume=True)['image'].shape == (30, 199, 206)
    with pytest.raises(ValueError, match='no labels'): e.arrays('test', layer='mask')

def test_bad_input(real):
    nuc, _ = real
    with pytest.raises(ValueError, match='`nuclei`: expected an integer'): tissue_from_nuclei(nuc.astype(float))
    with pytest.raises(ValueError, match='`gap_fraction`/`gap_strength`'): tissue_from_nuclei(nuc, gap_fraction=2)
    with pytest.raises(ValueError, match='`image`: `nuclear_mix`'): tissue_from_nuclei(nuc, nuclear_mix=.3)
    with pytest.raises(ValueError, match="`preset`"): nuclei_tissue(preset='hard')
    with pytest.raises(ValueError, match="`planes`"): epitools_membrane(planes=0)
