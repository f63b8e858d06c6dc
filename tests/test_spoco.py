"""SPOCO end to end on tiny inputs: determinism, sparse-label edge cases, clustering of degenerate embeddings, bad input."""
import numpy as np, pytest, torch
from segkit.labels.objects import ObjectLabels, object_table, sample_objects
from segkit.losses import SpocoLoss, embedding_terms
from segkit.data.block import make_dls
from segkit.instances.spoco import spoco_learner, predict_embeddings
from segkit.instances.embeddings import mws_labels, mean_shift_labels, hdbscan_labels
from conftest import toy_objects

def _toy(n=4): return toy_objects(n, size=32, objects=4, side=6, margin=2)

def _train(seed):
    imgs, labs = _toy()
    dls = make_dls(ObjectLabels(imgs, labs, p=0.5, seed=seed, crop=24, epoch_len=4), ObjectLabels(imgs[:1], labs[:1], p=0.5, seed=seed),
                   bs=2, seed=seed, device='cpu')
    from segkit.core import torch_seeded
    with torch_seeded(seed):
        learn = spoco_learner(dls, dim=4, depth=1, base=4, seed=seed, keep_best=None)
        with learn.no_bar(), learn.no_logging(): learn.fit(1, 1e-3)
    return predict_embeddings(learn.model, imgs[:1])

def test_same_seed_gives_identical_embeddings_and_another_seed_differs():
    a, b, c = _train(0), _train(0), _train(1)
    assert np.array_equal(a, b) and not np.array_equal(a, c)

def test_a_batch_without_labelled_objects_gives_a_finite_zero_loss_with_a_gradient_path():
    emb = torch.randn(2, 4, 8, 8, requires_grad=True)
    loss = SpocoLoss()(emb, torch.full((2, 8, 8), -1))
    loss.backward()
    assert float(loss) == 0 and emb.grad is not None and torch.isfinite(emb.grad).all()

def test_bad_inputs_name_the_argument():
    emb = torch.randn(1, 4, 8, 8)
    with pytest.raises(ValueError, match='NaN or inf'): embedding_terms(emb * float('nan'), torch.zeros(1, 8, 8, dtype=torch.long))
    with pytest.raises(ValueError, match='`t`: expected a kernel value'): SpocoLoss(t=1.0)
    with pytest.raises(ValueError, match='`p`: expected a fraction'): sample_objects(object_table(_toy(1)[1]), p=1.2)

def test_clustering_an_empty_or_constant_image_is_defined():
    flat = np.zeros((4, 16, 16), np.float32)
    for f in (mws_labels, mean_shift_labels, lambda e: hdbscan_labels(e)[0]):
        out = f(flat)
        assert out.shape == (16, 16) and out.max() == 0          # one cluster = the background: no object
