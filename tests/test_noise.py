"""segkit.labels.noise: the error models' exact counts, reference agreement (scipy, scikit-image), seeding and bad input (issue 18)."""
import subprocess, sys
import numpy as np
import pytest
from scipy import ndimage as ndi
from segkit.core import synth_blobs
from segkit.labels.noise import (LabelSample, Omission, Inclusion, FelzenszwalbInclusion, Bias, SaltPepper, Compose, merge_images,
                                 perturb, bias, get_preset, PRESETS, NoisyLabels, noisy_dls, write_noisy_labels)
from segkit.registry import UnknownName
from conftest import ROOT

def _grid(n=12, size=5, gap=3):
    lab = np.zeros((size + 2 * gap, n * (size + gap) + gap), np.int32)
    for i in range(n): lab[gap:gap + size, gap + i * (size + gap):gap + i * (size + gap) + size] = i + 1
    return lab

@pytest.mark.parametrize('r', [0., 0.1, 0.25, 0.5, 0.7, 1.])
def test_omission_removes_exactly_round_rE_and_keeps_background(r):
    lab = _grid(12)
    for seed in range(5):
        y, rates = perturb(lab, Omission(r), seed=seed)
        kept = np.unique(lab[y > 0])
        assert len(kept) == 12 - int(round(r * 12))
        assert (y[lab == 0] == 0).all()
        assert all((y[lab == k] == 1).all() for k in kept)          # kept objects stay whole

def test_omission_dice_formula_equal_size_objects():
    lab = _grid(40, 6, 2)
    for r in (0.1, 0.3, 0.5, 0.7):
        assert abs(perturb(lab, Omission(r), seed=1)[1]['dice_vs_clean'] - 2 * (1 - r) / (2 - r)) <= 0.02

def test_omission_on_synth_blobs_dice_close_to_formula_on_average():
    bl = synth_blobs(20, 64, n_objects=(6, 8), radius=(5., 5.), seed=0)
    d = np.mean([perturb(m, Omission(0.7), seed=0, unit=i)[1]['dice_vs_clean'] for i, m in enumerate(bl.masks)])
    assert abs(d - 2 * 0.3 / 1.3) <= 0.05

def test_inclusion_adds_exactly_round_rF_and_never_changes_main():
    lab = _grid(4); oth = np.zeros_like(lab); oth[0, ::2] = np.arange(1, oth[0, ::2].size + 1)
    F = oth.max()
    for r in (0.2, 0.7):
        s = Inclusion(r)(LabelSample(lab.copy(), other=oth), np.random.default_rng(0))
        assert len(np.unique(s.label)) - 1 == 4 + int(round(r * F))
        assert (s.label[lab > 0] == lab[lab > 0]).all()

def test_inclusion_nothing_to_include_is_logged_not_raised():
    lab = _grid(3)
    y, r = perturb(lab, Inclusion(0.7), other=np.zeros_like(lab))
    assert np.isnan(r['inclusion']) and (y == (lab > 0)).all()

def test_merge_never_overwrites_main_objects():
    rng = np.random.default_rng(0)
    a, b = synth_blobs(2, 64, seed=3).images, synth_blobs(2, 64, seed=4).masks
    main = synth_blobs(2, 64, seed=3).masks[0]
    img, inst, other = merge_images(a[0], main, rng.random((64, 64)), b[1])
    assert (inst == main).all() and (img[main > 0] == a[0][main > 0]).all() and not (other[main > 0] > 0).any()
    assert other.max() == 0 or other[other > 0].min() > main.max()

@pytest.mark.parametrize('q', [1, 2, 4, 6])
def test_bias_equals_iterated_scipy_morphology(q):
    bl = synth_blobs(1, 64, seed=5).masks[0]
    m = (bl > 0)
    assert (bias(m, q, 'erode') == ndi.binary_erosion(m, np.ones((3, 3)), iterations=q, border_value=1)).all()
    assert (bias(m, q, 'dilate') == ndi.binary_dilation(m, np.ones((3, 3)), iterations=q)).all()

def test_bias_draws_q_in_range_and_both_ops():
    lab = _grid(3)
    seen = [perturb(lab, Bias(3), seed=0, unit=u)[1] for u in range(40)]
    assert {r['bias_q'] for r in seen} == {1, 2, 3} and {r['bias_op'] for r in seen} == {'erode', 'dilate'}

def test_salt_pepper_fraction_within_3_sigma_and_half_salt():
    p, n = 0.1, 512 * 512
    s = SaltPepper(p)(LabelSample(np.zeros((512, 512), np.int32)), np.random.default_rng(7))
    assert abs(s.rates['salt_pepper'] - p) < 3 * np.sqrt(p * (1 - p) / n)
    salt = s.label.mean()                         # on an all-background label, salt = replaced pixels set to 1
    assert abs(salt - p / 2) < 3 * np.sqrt(p / 2 * (1 - p / 2) / n)
    sk = pytest.importorskip('skimage.util').random_noise(np.zeros((512, 512)), mode='s&p', amount=p, rng=0)
    assert abs(sk.mean() - salt) < 6 * np.sqrt(p / 2 / n)

def test_felzenszwalb_cache_counts_and_same_segments():
    bl = synth_blobs(2, 64, seed=1)
    fz = FelzenszwalbInclusion(0.3)
    for _ in range(3): perturb(bl.masks[0], fz, image=bl.images[0], unit=0)
    perturb(bl.masks[1], fz, image=bl.images[1], unit=1)
    assert (fz.misses, fz.hits) == (2, 2)
    nc = FelzenszwalbInclusion(0.3, cache=False)
    assert (nc.segments(bl.images[0]) == fz.segments(bl.images[0], key=0)).all()

def test_offline_stable_online_differs_per_epoch_and_repeats():
    bl = synth_blobs(5, 48, seed=2)
    a = NoisyLabels(bl.images, bl.masks, 'om50+inc50+bias6', other=[np.zeros_like(m) for m in bl.masks])
    b = NoisyLabels(bl.images[::-1], bl.masks[::-1], 'om50+inc50+bias6', other=[np.zeros_like(m) for m in bl.masks], unit_ids=[4, 3, 2, 1, 0])
    for k in range(5): assert (a.noisy(k) == b.noisy(4 - k)).all()
    def epochs(seed):
        d = NoisyLabels(bl.images, bl.masks, 'om50+inc50+bias6', other=[np.zeros_like(m) for m in bl.masks], mode='online', seed=seed)
        out = []
        for e in range(3): d.set_epoch(e); out.append(d.noisy(0))
        return out
    e1, e2 = epochs(0), epochs(0)
    assert all((x == y).all() for x, y in zip(e1, e2))
    assert any((e1[0] != x).any() for x in e1[1:])

def test_report_has_realised_rates():
    bl = synth_blobs(4, 48, seed=2)
    t = NoisyLabels(bl.images, bl.masks, 'om70').report()
    assert len(t) == 4 and {'omission', 'dice_vs_clean'} <= set(t.columns)

def test_write_noisy_labels(tmp_path):
    from segkit.data.sources import from_arrays
    bl = synth_blobs(3, 32, seed=0)
    ds = from_arrays('toy', bl.images, bl.masks, ('background', 'object'), 'instance', ['train', 'train', 'valid'])
    t = write_noisy_labels(ds, 'bias2', tmp_path, seed=1, split='train')
    assert list(t.index) == [0, 1] and (tmp_path / 'rates.csv').exists() and len(list((tmp_path / 'labels').glob('*.png'))) == 2

# --- bad input: one clear line naming the argument ---
@pytest.mark.parametrize('make,msg', [
    (lambda: Omission(-0.1), '`rate`: expected a rate in [0, 1]'),
    (lambda: Inclusion(1.5), '`rate`: expected a rate in [0, 1]'),
    (lambda: SaltPepper(2), '`amount`: expected a rate in [0, 1]'),
    (lambda: Bias(0), '`q_max`: expected an integer ≥ 1'),
    (lambda: LabelSample(np.array([[0.5, 1.]])), 'integer instance map'),
    (lambda: LabelSample(np.array([[0, 1]]), other=np.array([[0, 1]])), 'L ∩ Λ = ∅'),
    (lambda: LabelSample(np.zeros((4, 4), int), image=np.zeros((4, 5))), 'spatial shapes differ'),
    (lambda: Compose([SaltPepper(0.1), Inclusion(0.3)]), 'Inclusion after SaltPepper: instance identities no longer exist'),
    (lambda: FelzenszwalbInclusion(0.1).segments(np.zeros((2, 2, 8, 8))), 'Felzenszwalb needs a 2-D image'),
    (lambda: perturb(np.ones((4, 4), int), Omission(0.3), level='binary'), 'cannot act on already-binary'),
    (lambda: NoisyLabels([np.zeros((8, 8))], [np.zeros((8, 8), int)], mode='sometimes'), "`mode`: expected 'offline' or 'online'"),
])
def test_bad_input(make, msg):
    with pytest.raises((ValueError, TypeError)) as e: make()
    assert msg in str(e.value)

def test_unknown_preset_lists_presets():
    with pytest.raises(UnknownName) as e: get_preset('om99')
    for n in ('om70', 'inc70', 'bias6', 'case_study'): assert n in str(e.value)

def test_online_refuses_workers():
    bl = synth_blobs(4, 32, seed=0)
    with pytest.raises(ValueError, match='num_workers'):
        noisy_dls(NoisyLabels(bl.images[:3], bl.masks[:3], 'om30', mode='online'), bl.images[3:], bl.masks[3:], num_workers=2, device='cpu')

def test_noise_module_stays_in_layer_2():
    code = "import sys, segkit.labels.noise; bad = [m for m in sys.modules if m.startswith(('segkit.learner', 'segkit.pseudo', 'segkit.recipes', 'segkit.models'))]; print(bad)"
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, cwd=ROOT).stdout.strip()
    assert out == '[]', out
