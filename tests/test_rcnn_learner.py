"""Mask R-CNN in fastai (`segkit.learner_rcnn`): a two-image toy set trains end to end on the CPU with the network blocked,
validation losses are reproducible (BN in eval mode, seeded sampling), AJI⁺ every n epochs, targets from masks."""
import math, urllib.request
import numpy as np, pytest, torch
import torch.hub
import torchvision.models._api as tv_api
from segkit.core import torch_seeded
from segkit.models.rcnn import mask_rcnn, umask_rcnn
from segkit.learner_rcnn import masks_to_targets, RCNNDataset, rcnn_dls, rcnn_learner, RCNNCallback

@pytest.fixture
def offline(monkeypatch):
    def refuse(*a, **k): raise AssertionError(f"network access attempted: {a[:1]}")
    monkeypatch.setattr(torch.hub, 'load_state_dict_from_url', refuse)
    monkeypatch.setattr(tv_api.WeightsEnum, 'get_state_dict', refuse)
    monkeypatch.setattr(urllib.request, 'urlopen', refuse)

def _toy(size=64):
    "Two images with two bright squares each (one shifted), their label maps and certainty tags."
    rng = np.random.default_rng(0)
    ims, labs = [], []
    for i in range(2):
        lb = np.zeros((size, size), np.int32); lb[4:24, 4:24] = 1; lb[34 - i:56, 30:52] = 2
        ims.append((rng.random((size, size)) * 0.2 + (lb > 0) * 0.7).astype(np.float32)); labs.append(lb)
    return ims, labs, [[True, False]] * 2

def _net(kind='umask'):
    with torch_seeded(0):
        return (umask_rcnn if kind == 'umask' else mask_rcnn)(backbone='tiny', size=64, detections=20,
                                                               rpn_post_nms_top_n_train=100, rpn_post_nms_top_n_test=50)

def test_two_image_toy_set_trains_end_to_end_offline(offline):
    ims, labs, tags = _toy()
    dls = rcnn_dls(RCNNDataset(ims, labs, certain=tags, flip=True), RCNNDataset(ims, labs, certain=tags), bs=2, device='cpu')
    learn = rcnn_learner(dls, _net(), lr=1e-3, aji_every=2, keep_best=None)
    with torch_seeded(1): learn.fit(3)
    names, vals = list(learn.recorder.metric_names[1:-1]), np.array(learn.recorder.values, dtype=float)
    col = {n: vals[:, i] for i, n in enumerate(names)}
    assert col['train_loss'][-1] < col['train_loss'][0]                          # it learns
    assert 'loss_certainty' in col and np.isfinite(col['loss_certainty']).all()
    assert math.isnan(col['aji_plus'][0]) and not math.isnan(col['aji_plus'][1]) and math.isnan(col['aji_plus'][2])   # every 2 epochs
    last = col['valid_loss'][-1]
    assert learn.validate()[0] == pytest.approx(last, abs=1e-5)                   # BN in eval mode + seeded sampling: reproducible
    assert all(isinstance(c, RCNNCallback) for c in [learn.rcnn])
    bn = [m for m in learn.model.modules() if isinstance(m, torch.nn.BatchNorm2d)][0]
    before = bn.running_mean.clone(); learn.validate()
    assert torch.equal(bn.running_mean, before)                                   # validation never updates BN statistics

def test_plain_mask_rcnn_has_no_certainty_column(offline):
    ims, labs, _ = _toy()
    dls = rcnn_dls(RCNNDataset(ims, labs), RCNNDataset(ims, labs), bs=2, device='cpu')
    learn = rcnn_learner(dls, _net('plain'), aji_every=None, keep_best=None)
    assert 'loss_certainty' not in [m.name for m in learn.metrics] and len(learn.metrics) == 5

def test_targets_match_a_per_object_reference():
    rng = np.random.default_rng(3)
    lbl = np.zeros((40, 50), np.int32)
    for k in range(1, 9):
        r, c = rng.integers(0, 34), rng.integers(0, 44); lbl[r:r + rng.integers(1, 6), c:c + rng.integers(1, 6)] = k
    t = masks_to_targets(lbl, min_area=1)
    ids = np.unique(lbl[lbl > 0])
    ref = []
    for k in ids:                                                                 # the loop the vectorised code replaces
        ys, xs = np.nonzero(lbl == k); ref.append([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1])
    np.testing.assert_array_equal(t['boxes'].numpy(), np.array(ref, np.float32))
    assert len(t['masks']) == len(ids) and t['dropped'] == 0

def test_empty_images_and_bad_input():
    t = masks_to_targets(np.zeros((8, 8), np.int32))
    assert t['boxes'].shape == (0, 4) and t['masks'].shape == (0, 8, 8)
    with pytest.raises(ValueError, match='`masks`: expected a binary'): masks_to_targets(np.full((1, 4, 4), 2.0))
    with pytest.raises(ValueError, match='`pad`'): masks_to_targets(np.zeros((4, 4), int), pad=-1)
    ims, labs, tags = _toy()
    with pytest.raises(ValueError, match='`certain`: expected one entry per image'): RCNNDataset(ims, labs, certain=tags[:1])
    with pytest.raises(ValueError, match='`crop`'): RCNNDataset(ims, labs, crop=100)
    from segkit.learner_rcnn import RCNNAJI
    with pytest.raises(ValueError, match='`every`'): RCNNAJI(every=0)

def test_rcnn_aji_scores_overlapping_truth_as_stack():
    "Overlapping GT masks are scored as a stack: a perfect painted prediction of two overlapping squares is < 1, a lone square = 1."
    from types import SimpleNamespace
    from torch import nn
    from segkit.learner_rcnn import RCNNAJI
    m = torch.zeros(2, 16, 16, dtype=torch.uint8); m[0, 2:10, 2:10] = 1; m[1, 6:14, 6:14] = 1
    class Fake(nn.Module):
        def __init__(s, masks): super().__init__(); s.masks = masks; s.w = nn.Parameter(torch.zeros(1))
        def forward(s, ims): return [dict(masks=s.masks[:, None].float(), scores=torch.ones(len(s.masks)), labels=torch.ones(len(s.masks), dtype=torch.int64))] * len(ims)
    def score(gt):
        met = RCNNAJI(); met.reset()
        lr = SimpleNamespace(model=Fake(gt), xb=([torch.zeros(1, 16, 16)], [dict(masks=gt)]), yb=(), epoch=0)
        met.accumulate(lr); return met.value
    assert score(m) < 0.95                # the painted prediction cannot recover the hidden pixels of the stack
    assert score(m[:1]) == pytest.approx(1.0)
