"""Site classifiers (segkit.models.classifiers): one-channel architectures, weight loading, training table and counts."""
import numpy as np
import pytest
import torch
from segkit.models import classifiers as C
from segkit import learner as L
from segkit.metrics import classification as MC

# --- classifiers ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize('arch', ['vgg16', 'resnet34', 'densenet121'])
def test_classifier_one_channel_shapes(arch):
    kw = {'hidden': 16} if arch.startswith('vgg') else {}
    m = C.site_classifier(arch, **kw).eval()
    with torch.no_grad(): out = m(torch.randn(2, 1, 64, 64))
    assert out.shape == (2, 2)
    first = m.get_submodule(C.ARCHS[arch].first_conv)
    assert first.in_channels == 1 and C.conv_layer_names(m)[0] == C.ARCHS[arch].first_conv
    for name in C.ARCHS[arch].blocks + (C.ARCHS[arch].cam_layer,): m.get_submodule(name)
    with pytest.raises(RuntimeError): m(torch.randn(1, 3, 64, 64))

def test_classifier_weights_sum_rgb_filters(tmp_path):
    import torchvision
    rgb = torchvision.models.resnet18(weights=None)               # 1000 classes, 3 channels
    torch.save(rgb.state_dict(), tmp_path / 'w.pth')
    m = C.site_classifier('resnet18', weights_path=tmp_path / 'w.pth', verbose=False)
    assert torch.allclose(m.conv1.weight, rgb.conv1.weight.sum(1, keepdim=True))
    assert torch.equal(m.layer1[0].conv1.weight, rgb.layer1[0].conv1.weight) and m.fc.out_features == 2
    m3 = C.site_classifier('resnet18', n_in=4, weights_path=tmp_path / 'w.pth', verbose=False)
    assert m3.conv1.weight.shape[1] == 4
    assert torch.allclose(m3.conv1.weight.sum(1), rgb.conv1.weight.sum(1), atol=1e-6)   # same response to a constant image
    torch.save(torchvision.models.resnet34(weights=None).state_dict(), tmp_path / 'r34.pth')
    with pytest.raises(ValueError, match="weights do not fit"): C.site_classifier('resnet18', weights_path=tmp_path / 'r34.pth', verbose=False)

def test_classifier_bad_input():
    with pytest.raises(KeyError, match="unknown architecture 'vgg19'; known: densenet121, resnet18"): C.site_classifier('vgg19')
    with pytest.raises(ValueError, match="not both"): C.site_classifier('resnet18', pretrained=True, weights_path='x.pth')
    with pytest.raises(FileNotFoundError, match="`weights_path`"): C.site_classifier('resnet18', weights_path='/nonexistent.pth')
    with pytest.raises(KeyError, match="unknown architectures"): L.train_site_classifiers(lambda s: None, archs=('lenet',))

def test_site_metrics_and_training_table():
    from fastai.data.core import DataLoaders
    from fastai.data.load import DataLoader
    torch.manual_seed(0)
    xs = torch.rand(8, 1, 16, 16); ys = torch.tensor([0, 1] * 4)
    xs[ys == 1] += 1.0                                              # separable
    dls = DataLoaders(DataLoader(list(zip(xs, ys)), bs=4, shuffle=True), DataLoader(list(zip(xs, ys)), bs=8), device='cpu')
    state = torch.random.get_rng_state()
    res = L.train_site_classifiers(lambda s: dls, archs=('resnet18',), seeds=(0, 1), epochs=1, patience=1, keep_models=True)
    assert torch.equal(state, torch.random.get_rng_state())         # the caller's RNG is untouched
    assert list(res.runs.columns[:4]) == ['arch', 'seed', 'precision', 'recall'] and len(res.runs) == 2
    assert (res.runs.n_valid == 8).all() and set(res.models) == {('resnet18', 0), ('resnet18', 1)}
    assert res.table.index.tolist() == ['resnet18'] and res.table.n_seeds.tolist() == [2]
    m = MC.SiteCounts('precision'); m.reset()
    learn = type('L', (), {'pred': torch.tensor([[0., 1.], [0., 1.], [1., 0.]]), 'y': torch.tensor([1, 0, 1])})()
    m.accumulate(learn)
    assert (m.tp, m.fp, m.fn) == (1, 1, 1) and m.value == 0.5
