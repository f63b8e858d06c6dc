"""Data blocks: every task on synthetic and real data, one channel end to end, seeded crops aligned with labels,
nested label-rate subsets, group splits, tiling."""
import numpy as np
import pytest
import torch
from segkit.core import image_labels
from segkit.data.sources import get_source, from_arrays
from segkit.data.block import seg_block_dls, label_rate_subsets, group_split, tile_starts, predict_tiled, LABEL_RATES

@pytest.fixture(scope='module')
def nuclei(): return get_source('nuclei')

@pytest.mark.parametrize('task', ['semantic', 'instance', 'classification', 'unlabelled'])
def test_tasks_on_real_nuclei(nuclei, task):
    dls = seg_block_dls(nuclei, task, crop=128, bs=4, device='cpu', epoch_len=8)
    b = dls.train.one_batch()
    assert b[0].shape == (4, 1, 128, 128) and b[0].dtype == torch.float32      # grayscale stays one channel
    assert 0 <= float(b[0].min()) and float(b[0].max()) <= 1
    if task == 'semantic': assert set(torch.unique(b[1]).tolist()) <= {0, 1}
    if task == 'instance': assert b[1].dtype == torch.int64 and b[1].max() > 1
    if task == 'classification': assert b[1].shape == (4, 2) and (b[1][:, 0] == 1).all()
    if task == 'unlabelled': assert len(b) == 1
    vb = dls.valid.one_batch()            # whole validation images, varying sizes → batch of one
    assert vb[0].shape[0] == 1 and vb[0].shape[-1] > 128

def test_crops_align_image_and_label():
    # the label is a function of the image, so any misaligned crop or flip shows up
    rng = np.random.default_rng(0)
    ims = [rng.random((40, 50)).astype(np.float32) for _ in range(6)]
    masks = [(im > 0.5).astype(np.int64) for im in ims]
    ds = from_arrays('t', ims, masks, ('a', 'b'), 'semantic', ['train'] * 4 + ['valid'] * 2)
    dls = seg_block_dls(ds, 'semantic', crop=16, bs=4, device='cpu', epoch_len=16)
    for x, y in dls.train:
        lo = x[:, 0]  # percentile-normalised, monotone in the raw value: > 0.5 raw ⇔ above the normalised threshold
        for xi, yi in zip(lo, y):
            assert (xi[yi == 1].min() >= xi[yi == 0].max())

def test_nuclei_semantic_layer_three_classes(nuclei):
    dls = seg_block_dls(nuclei, 'semantic', layer='semantic', crop=256, bs=8, device='cpu', seed=3)
    assert dls.codes == ('background', 'nucleus', 'micronucleus')
    with pytest.raises(ValueError, match="`layer`: expected one of 'mask', 'semantic', 'foreground', 'instances', 'micronuclei', got 'nope'"):
        seg_block_dls(nuclei, 'semantic', layer='nope')

def test_seeded():
    ds = get_source('synthetic_blobs', n=12, size=48)
    a = seg_block_dls(ds, 'semantic', crop=24, bs=4, device='cpu', seed=5).train.one_batch()[0]
    b = seg_block_dls(ds, 'semantic', crop=24, bs=4, device='cpu', seed=5).train.one_batch()[0]
    c = seg_block_dls(ds, 'semantic', crop=24, bs=4, device='cpu', seed=6).train.one_batch()[0]
    assert torch.equal(a, b) and not torch.equal(a, c)

def test_bad_arguments():
    ds = get_source('synthetic_shapes', n=12, size=32)
    with pytest.raises(ValueError, match='`task`'): seg_block_dls(ds, 'detection')
    with pytest.raises(ValueError, match='smaller than the crop'): seg_block_dls(ds, crop=64, device='cpu').one_batch()
    with pytest.raises(ValueError, match='has no labels'): seg_block_dls(get_source('dem'), 'semantic', train=[0], valid=[1])

def test_label_rate_subsets_nested_and_sized():
    subs = label_rate_subsets(np.arange(100, 130), seed=1)
    assert list(subs) == sorted(LABEL_RATES)
    sizes = [len(v) for v in subs.values()]
    assert sizes == sorted(sizes) and sizes[-1] == int(np.ceil(0.64 * 30))
    vals = list(subs.values())
    assert all(set(a) <= set(b) for a, b in zip(vals, vals[1:]))
    assert not np.array_equal(label_rate_subsets(np.arange(30), seed=2)[0.16], label_rate_subsets(np.arange(30), seed=3)[0.16])

def test_group_split_keeps_groups_whole(nuclei):
    groups = nuclei.meta.acquisition.to_numpy()
    sp = group_split(groups, seed=0)
    for g in np.unique(groups): assert len(set(sp[groups == g])) == 1
    assert set(sp) == {'train', 'valid', 'test'}
    with pytest.raises(ValueError, match='at least 2 groups'): group_split(['a', 'a'])

def test_tiling_covers_and_averages():
    for n, t, o in [(100, 32, 8), (256, 256, 0), (257, 128, 16), (10, 32, 4)]:
        st = tile_starts(n, t, o)
        cover = np.zeros(n, int)
        for s in st: cover[s:s + t] += 1
        assert cover.min() >= 1 and st[-1] + min(t, n) == n
        if len(st) > 1: assert min(a + t - b for a, b in zip(st, st[1:])) >= o
    from segkit.models.unet import UNet
    net = UNet(1, 2, depth=1, base=2)
    p = predict_tiled(net, np.random.default_rng(0).random((50, 61), dtype=np.float32), tile=24, overlap=6)
    assert p.shape == (2, 50, 61) and np.allclose(p.sum(0), 1, atol=1e-4)
