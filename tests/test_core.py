"""Properties of the core helpers and synthetic generators, checked against scikit-image where it has the same thing."""
import numpy as np
import pytest
import torch
from skimage.measure import label as cc_label
from skimage.segmentation import relabel_sequential as sk_relabel
from segkit.core import (check_image, check_label_map, check_pair, relabel_sequential, n_instances, instance_sizes,
                         one_hot, image_labels, get_rng, default_device, synth_blobs, synth_shapes, label_overlay,
                         to_foreground)

def test_relabel_matches_skimage():
    rng = np.random.default_rng(0)
    lbl = rng.choice([0, 3, 17, 40, 41], size=(30, 30))
    ours = relabel_sequential(lbl)
    theirs = sk_relabel(lbl)[0]
    assert np.array_equal(ours, theirs)

@pytest.mark.parametrize('seed', range(3))
def test_blobs_are_objects(seed):
    s = synth_blobs(6, 64, n_objects=(2, 6), seed=seed)
    for img, m in zip(s.images, s.masks):
        ids = np.unique(m[m > 0])
        assert 2 <= len(ids) <= 6 and ids.min() == 1
        assert n_instances(m) == len(ids)
        # each instance is spatially coherent: at most a few fragments where a neighbour cuts through it
        for i in ids: assert cc_label(m == i).max() <= 3
        assert sum(instance_sizes(m).values()) == (m > 0).sum()
        assert np.isfinite(img).all() and img.dtype == np.float32

def test_generators_are_seeded_not_global():
    np.random.seed(1); a = synth_shapes(3, 32, seed=7)
    np.random.seed(2); b = synth_shapes(3, 32, seed=7)   # the global RNG has no influence
    assert np.array_equal(a.masks, b.masks) and np.array_equal(a.images, b.images)
    assert not np.array_equal(a.masks, synth_shapes(3, 32, seed=8).masks)

def test_shapes_classes_have_expected_geometry():
    s = synth_shapes(1, 64, n_shapes=(1, 1), scale=(10, 10), seed=3)
    cls = int(s.masks.max()); area = (s.masks[0] > 0).sum()
    expected = {1: np.pi * 100, 2: 400, 3: 200}[cls]           # disk, square (2s)^2, triangle base 2s height 2s / 2
    assert abs(area - expected) / expected < 0.15

def test_one_hot_and_image_labels_agree():
    s = synth_shapes(5, 48, seed=0)
    il = image_labels(s.masks, 4)
    oh = np.stack([one_hot(m, 4) for m in s.masks])
    assert np.array_equal(il, oh.reshape(5, 4, -1).max(-1))
    assert np.array_equal(oh.argmax(1), s.masks)

@pytest.mark.parametrize('bad, msg', [
    (np.zeros((2, 2, 2, 2)), 'shape'), (np.array([['a']]), 'real-valued'), (np.array([[np.inf]]), 'NaN/inf')])
def test_check_image_errors(bad, msg):
    with pytest.raises(ValueError, match=msg): check_image(bad, 'img')

def test_check_label_map_errors_name_the_argument():
    with pytest.raises(ValueError, match='`masks\\[3\\]`: expected codes in 0..1'): check_label_map(np.array([[0, 2]]), 'masks[3]', n_classes=2)
    with pytest.raises(ValueError, match='non-negative'): check_label_map(np.array([[-1, 0]]))
    with pytest.raises(ValueError, match='spatial shapes differ'): check_pair(np.zeros((2, 4, 4)), np.zeros((4, 5), int))
    with pytest.raises(ValueError, match='codes in 0..2'): image_labels(np.full((1, 2, 2), 3), 3)

def test_generators_reject_bad_arguments():
    with pytest.raises(ValueError, match='`n` must be'): synth_blobs(0)
    with pytest.raises(ValueError, match='radius'): synth_blobs(2, radius=(5, 2))
    with pytest.raises(ValueError, match='seed'): get_rng('x')

def test_device_choice_is_at_call_time(monkeypatch):
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    assert default_device().type in ('cpu', 'mps')
    with pytest.raises(RuntimeError, match='CUDA is not available'): default_device('cuda')

def test_overlay_is_valid_rgb():
    s = synth_blobs(1, 32, seed=0)
    rgb = label_overlay(s.images[0], s.masks[0])
    assert rgb.shape == (32, 32, 3) and rgb.min() >= 0 and rgb.max() <= 1
    assert to_foreground(s.masks[0]).dtype == np.uint8
