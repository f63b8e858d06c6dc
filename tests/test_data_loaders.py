"""One DataLoaders factory: `make_dls` rules, `array_dls` for every task (unlabelled without dummy targets), the thin
wrappers (`seg_dls`, `seg_block_dls`, `coheg_dls`) and a classification path that reproduces `site_dls`' items."""
import random
import numpy as np
import pytest
import torch
from fastai.torch_core import TensorCategory, TensorImage, TensorMask
from segkit.core import synth_shapes, stream_seed
from segkit.data.sources import get_source, from_arrays
from segkit.data.block import make_dls, array_dls, seg_dls, ArraySet, ArraySegDataset, partial_target, seg_block_dls, ARRAY_TASKS
from segkit.labels.coheg import CoHeG, coheg_dls, presence_table, coheg_table, merge

@pytest.fixture(scope='module')
def shapes():
    s = synth_shapes(14, 32, seed=0)
    return (list(s.images[:10]), list(s.masks[:10])), (list(s.images[10:]), list(s.masks[10:])), s.codes

def _order(dl): return [int(i) for b in dl for i in b[0][:, 0, 0, 0]]

def test_make_dls_seeding_drop_last_val_bs_device():
    items = [(torch.full((1, 4, 4), float(i)),) for i in range(10)]
    d = make_dls(items, items, bs=4, seed=3, device='cpu')
    assert _order(d.train) == _order(make_dls(items, items, bs=4, seed=3, device='cpu').train)
    assert _order(d.train) != _order(make_dls(items, items, bs=4, seed=4, device='cpu').train)
    r = random.Random(random.Random(stream_seed(3, 'train-order')).randint(0, 2**32 - 1))    # fastai re-seeds per epoch from `rng`
    assert _order(make_dls(items, items, bs=4, seed=3, device='cpu').train) == r.sample(range(10), 10)[:8]   # the named stream; drop_last
    assert len(make_dls(items[:4], items, bs=4, device='cpu').train) == 1                      # 4 items, one batch, kept
    assert d.valid.bs == 4 and make_dls(items, items + [(torch.zeros(1, 5, 5),)], bs=4, device='cpu').valid.bs == 1
    assert d.device == torch.device('cpu') and d.n_inp == 1
    with pytest.raises(ValueError, match='empty training'): make_dls([], items)

def test_make_dls_sampler_gives_the_order():
    items = [(torch.full((1, 2, 2), float(i)),) for i in range(6)]
    d = make_dls(items, items, bs=2, sampler=[5, 4, 3, 2, 1, 0], device='cpu')
    assert _order(d.train) == [5, 4, 3, 2, 1, 0]

def test_seg_dls_keeps_the_augmentation_of_the_learner_version(shapes):
    learner = pytest.importorskip('segkit.learner')
    (ti, tm), _, _ = shapes
    old, new = learner.ArraySegDataset(ti, tm, crop=16, flip=True, seed=2, epoch_len=25), ArraySegDataset(ti, tm, crop=16, flip=True, seed=2, epoch_len=25)
    for i in range(25):
        (a, b), (c, d) = old[i], new[i]
        assert torch.equal(a, c) and torch.equal(b, d) and type(c) is TensorImage and type(d) is TensorMask

@pytest.mark.parametrize('task', ARRAY_TASKS)
def test_array_dls_every_task(shapes, task):
    (ti, tm), (vi, vm), codes = shapes
    tr, va = {'semantic': ((ti, tm), (vi, vm)), 'instance': ((ti, tm), (vi, vm)),
              'partial': ((ti, tm, presence_table(10, 4, [1, 2, 3], rate=0.5, seed=0)), (vi, vm)),
              'classification': ((ti, [int(m.max()) for m in tm]), (vi, [int(m.max()) for m in vm])),
              'unlabelled': (ti, vi)}[task]
    d = array_dls(tr, va, task, bs=4, crop=16, seed=1, device='cpu')
    b, vb = d.one_batch(), d.valid.one_batch()
    assert b[0].shape == (4, 1, 16, 16) and vb[0].shape == (4, 1, 32, 32) and d.n_channels == 1 and d.task == task
    if task == 'unlabelled': assert len(b) == 1                                       # images only: no dummy masks
    if task == 'partial':
        x, y, m = b
        assert y.shape == (4, 4, 16, 16) and m.shape == (4, 4) and (vb[2] == 1).all()    # validation fully annotated
        assert ((y.sum(1) == 1).all())                                                 # complement background
    if task == 'classification': assert isinstance(b[1], TensorCategory) and b[1].shape == (4,)
    if task in ('semantic', 'instance'): assert b[1].shape == (4, 16, 16) and b[1].dtype == torch.int64

def test_array_dls_classification_from_label_maps(shapes):
    (ti, tm), (vi, vm), _ = shapes
    y = array_dls((ti, tm), (vi, vm), 'classification', n_classes=4, bs=4, device='cpu').valid.one_batch()[1]
    assert y.shape == (4, 4) and torch.equal(y[0], torch.tensor([float((vm[0] == c).any()) for c in range(4)]))

def test_array_dls_bad_inputs(shapes):
    (ti, tm), (vi, vm), _ = shapes
    with pytest.raises(ValueError, match="`task`: expected one of 'semantic', 'instance', 'partial', 'classification', 'unlabelled', got 'seg'"):
        array_dls((ti, tm), (vi, vm), 'seg')
    with pytest.raises(ValueError, match="takes images only"): array_dls((ti, tm), (vi, vm), 'unlabelled')
    with pytest.raises(ValueError, match="needs targets"): ArraySet(ti, None, 'semantic')
    with pytest.raises(ValueError, match="needs `n_classes`"): ArraySet(ti, tm, 'classification')
    with pytest.raises(ValueError, match="`present` must have shape"): array_dls((ti, tm, np.ones((3, 4))), (vi, vm), 'partial')
    with pytest.raises(ValueError, match="smaller than crop=64"): array_dls((ti, tm), (vi, vm), crop=64)
    with pytest.raises(ValueError, match="3 channels but valid has 1"): seg_dls(([np.zeros((3, 8, 8))], [np.zeros((8, 8), int)]), (vi, vm))

def test_partial_target_matches_coheg_items(shapes):
    (ti, tm), _, codes = shapes
    tab = presence_table(10, 4, [1, 2, 3], rate=0.5, seed=0)
    cg = CoHeG(ti, tm, codes, m_table=tab)
    ds = ArraySet(ti, tm, 'partial', present=tab)
    for k in range(10):
        (x, y, m), (x2, y2, m2) = cg[k], ds[k]
        assert torch.equal(x, x2) and torch.equal(y, y2) and torch.equal(m, m2)
    assert coheg_table is presence_table

def test_coheg_uses_named_streams_and_leaves_global_rngs_alone(shapes):
    (ti, tm), (vi, vm), codes = shapes
    np_state, torch_state = np.random.get_state()[1].copy(), torch.random.get_rng_state().clone()
    cg = CoHeG(ti, tm, codes, rate=0.5, seed=0, crop=16, flip=True, focus=0.5, epoch_len=20)
    for i in range(20): cg[i]
    cg.reset(); first = cg.m_table.copy(); cg.reset()
    assert not np.array_equal(first, cg.m_table) and ((cg.m_table == 0).sum(0) == [0, 5, 5, 5]).all()
    d = coheg_dls(cg, vi, vm, bs=4, device='cpu')
    assert np.array_equal(np_state, np.random.get_state()[1]) and torch.equal(torch_state, torch.random.get_rng_state())
    o1 = [b[2].tolist() for b in d.train]; d2 = coheg_dls(cg, vi, vm, bs=4, device='cpu')
    assert o1 == [b[2].tolist() for b in d2.train]       # the order comes from the seed, whatever the global RNGs did
    # the crop stream is not the presence table's stream (both were `default_rng(seed)` before)
    assert CoHeG(ti, tm, codes, rate=0.5, seed=0, crop=16).aug.rng.integers(1 << 30) != np.random.default_rng(0).integers(1 << 30)

def test_coheg_dls_groups_and_val_bs(shapes):
    (ti, tm), (vi, vm), codes = shapes
    tm3 = [np.minimum(m, 2) for m in tm]
    gm = merge(10, 3, 0.3, seed=0)
    d = coheg_dls(CoHeG(ti, tm3, codes[:3], m_table=gm), vi + [np.zeros((20, 20), np.float32)], [np.minimum(m, 2) for m in vm] + [np.zeros((20, 20), int)],
                  bs=4, device='cpu', groups=gm[:, 1])
    assert d.valid.bs == 1 and len(d.train) == 14 // 4                   # 7 per group, drop_last
    with pytest.raises(ValueError, match="`groups`: expected one id per training image"): coheg_dls(CoHeG(ti, tm3, codes[:3], m_table=gm), vi, vm, groups=[0, 1])

def test_seg_block_dls_through_make_dls():
    ds = get_source('synthetic_blobs', n=12, size=32)
    d = seg_block_dls(ds, 'unlabelled', crop=16, bs=4, device='cpu')
    assert len(d.one_batch()) == 1 and d.valid.fake_l.num_workers == 0 and d.train.fake_l.num_workers == 0   # no worker processes
    mixed = from_arrays('m', [np.ones((16, 16))] * 4 + [np.ones((16, 16)), np.ones((20, 20))], [np.zeros((16, 16), int)] * 5 + [np.zeros((20, 20), int)],
                        ('bg', 'x'), 'semantic', ['train'] * 4 + ['valid'] * 2)
    assert seg_block_dls(mixed, crop=8, bs=2, device='cpu').valid.bs == 1

def test_classification_path_reproduces_site_dls_items():
    import segkit.data.chips as A   # site_dls keeps its lazy per-item dataset; the array path must serve the same items
    ds = get_source('mounds', n=8, size=32, seed=0)
    tr = ds.indices('train')
    old = A._LabelledImages(ds, tr, True, 5)
    ims, labels = ds.arrays(tr, 'label', ndim=3)
    new = ArraySet(ims, labels, 'classification', flip=True, seed=5)
    for k in range(len(tr)):
        (a, b), (c, d) = old[k], new[k]
        assert torch.equal(a, c) and int(b) == int(d) and isinstance(d, TensorCategory)
