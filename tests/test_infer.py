"`segkit.infer.predict_maps`: agreement with `predict_masks`/`predict_tiled`, tiling, activations, devices, bad input."
import numpy as np
import pytest
import torch
from torch import nn
from segkit.infer import predict_maps
from segkit.models.unet import UNet
from segkit.learner import predict_masks
from segkit.data.block import predict_tiled

def _net(n_out=3, seed=0):
    torch.manual_seed(seed)
    return UNet(1, n_out, depth=2, base=4)

def test_matches_predict_masks_and_predict_tiled():
    net, x = _net(), np.random.default_rng(0).normal(size=(3, 40, 56)).astype(np.float32)
    p = predict_maps(net, x, bs=2)
    assert p.shape == (3, 3, 40, 56) and p.dtype == np.float32
    np.testing.assert_array_equal(p.argmax(1), np.stack(predict_masks(net, list(x))))
    np.testing.assert_allclose(predict_maps(net, x[1:2], tile=24, overlap=6)[0], predict_tiled(net, x[1], tile=24, overlap=6), atol=1e-5)

def test_tiling_is_exact_for_pointwise_models_and_covers_every_pixel():
    conv = nn.Conv2d(2, 4, 1)
    x = np.random.default_rng(1).normal(size=(2, 2, 37, 61)).astype(np.float32)
    for act in ('softmax', 'sigmoid', None):
        whole = predict_maps(conv, x, act)
        for tile, ov in ((8, 0), (16, 7), (100, 32)):
            np.testing.assert_allclose(predict_maps(conv, x, act, tile=tile, overlap=ov), whole, atol=1e-5)

def test_overlap_average_differs_from_no_overlap_for_context_models():
    "A model with context must see tile borders: the test would pass vacuously if tiles were ignored."
    net, x = _net(2), np.random.default_rng(2).normal(size=(1, 64, 64)).astype(np.float32)
    assert np.abs(predict_maps(net, x, None, tile=32, overlap=16) - predict_maps(net, x, None)).max() > 1e-4

def test_raw_and_sigmoid_and_mode_restored():
    net = _net(2).train()
    x = torch.randn(2, 1, 32, 32)
    raw = predict_maps(net, x, None)
    np.testing.assert_allclose(predict_maps(net, x, 'sigmoid'), 1 / (1 + np.exp(-raw)), atol=1e-5)
    assert net.training and all(m.training for m in net.modules())

@pytest.mark.parametrize('kw, msg', [(dict(activation='tanh'), '`activation`'), (dict(tile=-3), '`tile`'),
                                     (dict(overlap=-1), '`overlap`'), (dict(bs=0), '`bs`')])
def test_bad_arguments(kw, msg):
    with pytest.raises(ValueError, match=msg): predict_maps(_net(), np.zeros((1, 16, 16), np.float32), **kw)

def test_bad_images():
    with pytest.raises(ValueError, match='`images`: expected images of one shape'): predict_maps(_net(), [np.zeros((8, 8)), np.zeros((9, 8))])
    with pytest.raises(ValueError, match='`images`: expected an array'): predict_maps(_net(), np.zeros((4, 4, 4, 4, 4)))

@pytest.mark.cuda
def test_cuda_matches_cpu_and_moves_back():
    net, x = _net(), np.random.default_rng(3).normal(size=(2, 48, 48)).astype(np.float32)
    cpu = predict_maps(net, x, tile=32, overlap=8)
    gpu = predict_maps(net, x, tile=32, overlap=8, device='cuda')
    assert next(net.parameters()).device.type == 'cpu'
    np.testing.assert_allclose(gpu, cpu, atol=2e-2)      # autocast (fp16) on CUDA
