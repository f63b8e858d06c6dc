"""Encoders: stage shapes and parameter counts against published sizes; local weights (round trip, RGB → gray,
bad checkpoints); the U-Net over any encoder; freezing."""
import pytest
import torch
from torch import nn
from segkit.models.encoders import (get_encoder, list_encoders, load_encoder_weights, encoder_unet, freeze_encoder,
                                    unfreeze_encoder, register_encoder, UNetDecoder)
from segkit.models.unet import n_params

FAST = [n for n in list_encoders() if not n.endswith(('_large', '_huge'))]   # large/huge: 200 M / 660 M parameters

@pytest.mark.parametrize('name', FAST)
def test_stage_shapes(name):
    enc = get_encoder(name, **({'base': 8} if name == 'unet' else {})).eval()
    x = torch.randn(1, 1, 64, 64)
    with torch.no_grad(): fs = enc(x)
    assert [f.shape[1] for f in fs] == enc.channels
    assert [(f.shape[-2], f.shape[-1]) for f in fs] == [(64 // s, 64 // s) for s in enc.strides]
    assert enc.embed(x).shape == (1, enc.channels[-1]) == (1, enc.dim)

def test_registry_lists_the_families():
    names = list_encoders()
    for n in ('resnet18', 'resnet34', 'resnet50', 'unet') + tuple(f'convnextv2_{s}' for s in ('atto', 'femto', 'pico', 'nano', 'tiny', 'base')):
        assert n in names

@pytest.mark.parametrize('name,expected', [
    ('resnet18', 11_689_512 - 513_000 - 6272),   # torchvision's count minus the classifier and two of three stem channels
    ('resnet34', 21_797_672 - 513_000 - 6272),
    ('resnet50', 25_557_032 - 2_049_000 - 6272)])
def test_resnet_parameter_counts(name, expected):
    assert n_params(get_encoder(name)) == expected

@pytest.mark.parametrize('size,thesis', [('atto', 3.40e6), ('femto', 4.90e6), ('pico', 8.60e6), ('nano', 1.50e7), ('tiny', 2.79e7)])
def test_convnextv2_sizes_match_thesis_table_a10(size, thesis):
    assert abs(n_params(get_encoder(f'convnextv2_{size}')) / thesis - 1) < 0.02

def test_convnextv2_has_grn():
    enc = get_encoder('convnextv2_atto')
    assert any('grn' in n for n, _ in enc.named_parameters())

def test_n_in_and_bad_input():
    enc = get_encoder('resnet18', n_in=3)
    assert [f.shape[1] for f in enc(torch.randn(2, 3, 32, 32))] == enc.channels
    with pytest.raises(ValueError, match=r'expected input \(N, 3, H, W\)'): enc(torch.randn(2, 1, 32, 32))
    with pytest.raises(KeyError, match='known: .*resnet18'): get_encoder('vgg16')
    with pytest.raises(ValueError, match='weights_path'): get_encoder('resnet18', pretrained=True)
    with pytest.raises(ValueError, match='already registered'): register_encoder('resnet18')(lambda n_in=1: None)

def test_between_hook_sees_input_and_every_stage():
    enc, seen = get_encoder('convnextv2_atto'), []
    enc(torch.randn(1, 1, 64, 64), between=lambda t: seen.append(t.shape[-1]) or t)
    assert seen == [64, 16, 16, 8, 4, 2]     # input, stem, stages 1–4

@pytest.mark.parametrize('name', ['resnet18', 'convnextv2_atto'])
def test_weights_path_round_trip(tmp_path, name):
    a = get_encoder(name)
    with torch.no_grad():
        for p in a.parameters(): p.add_(0.01)
    torch.save({'model': a.state_dict()}, tmp_path / 'w.pth')
    b = get_encoder(name, weights_path=tmp_path / 'w.pth')
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)

def test_backbone_checkpoint_with_rgb_stem_and_classifier(tmp_path):
    import torchvision
    rgb = torchvision.models.resnet18(weights=None).eval()
    torch.save(rgb.state_dict(), tmp_path / 'rgb.pth')
    enc = get_encoder('resnet18').eval()
    info = load_encoder_weights(enc, tmp_path / 'rgb.pth')
    assert info['skipped_head'] == 2 and info['converted_rgb'] == 1
    g = torch.rand(2, 1, 64, 64)        # a gray image gives the same features as its RGB replica
    with torch.no_grad():
        ref = rgb.layer4(rgb.layer3(rgb.layer2(rgb.layer1(rgb.maxpool(rgb.relu(rgb.bn1(rgb.conv1(g.repeat(1, 3, 1, 1)))))))))
        assert torch.allclose(enc(g)[-1], ref, atol=1e-4)

def test_bad_checkpoints(tmp_path):
    enc = get_encoder('resnet18')
    with pytest.raises(FileNotFoundError, match='weights_path'): load_encoder_weights(enc, tmp_path / 'nope.pth')
    torch.save(get_encoder('resnet50').state_dict(), tmp_path / 'r50.pth')
    with pytest.raises(ValueError, match='shape'): load_encoder_weights(enc, tmp_path / 'r50.pth')
    sd = enc.state_dict(); sd.pop('body.layer4.1.bn2.weight'); torch.save(sd, tmp_path / 'part.pth')
    with pytest.raises(KeyError, match='lacks 1'): load_encoder_weights(enc, tmp_path / 'part.pth')
    sd = get_encoder('resnet18', n_in=2).state_dict(); torch.save(sd, tmp_path / 'two.pth')
    with pytest.raises(ValueError, match='shape'): load_encoder_weights(enc, tmp_path / 'two.pth')

@pytest.mark.parametrize('name', ['resnet18', 'convnextv2_atto', 'unet'])
@pytest.mark.parametrize('hw', [(64, 64), (50, 70)])
def test_encoder_unet_shapes(name, hw):
    m = encoder_unet(name, 3, **({'base': 8, 'depth': 3} if name == 'unet' else {}))
    assert m(torch.randn(2, 1, *hw)).shape == (2, 3, *hw)

def test_transfer_keeps_the_encoder_module_and_weights():
    enc = get_encoder('resnet18')
    m = encoder_unet(enc, 2)
    assert m.encoder is enc
    other = encoder_unet('resnet18', 2)
    other.encoder.load_state_dict(enc.state_dict())
    assert all(torch.equal(v, other.encoder.state_dict()[k]) for k, v in enc.state_dict().items())

def test_frozen_encoder_gets_no_gradients_and_keeps_bn_statistics():
    m = encoder_unet('resnet18', 2, freeze=True).train()
    stats = m.encoder.body.bn1.running_mean.clone()
    opt = torch.optim.SGD([p for p in m.parameters() if p.requires_grad], lr=0.1)
    w = m.encoder.body.conv1.weight.clone()
    loss = m(torch.randn(4, 1, 64, 64)).logsumexp(1).mean(); loss.backward(); opt.step()
    assert all(p.grad is None for p in m.encoder.parameters())
    assert all(p.grad is not None for p in m.decoder.parameters())
    assert torch.equal(m.encoder.body.conv1.weight, w) and torch.equal(m.encoder.body.bn1.running_mean, stats)
    unfreeze_encoder(m)
    m(torch.randn(4, 1, 64, 64)).mean().backward()
    assert m.encoder.training and m.encoder.body.conv1.weight.grad is not None

def test_incompatible_encoder_and_decoder():
    with pytest.raises(TypeError, match='Encoder'): encoder_unet(nn.Conv2d(1, 8, 3), 2)
    with pytest.raises(ValueError, match='powers of 2'): UNetDecoder([8, 16], [4, 3], 2)
    m = encoder_unet('resnet18', 2)
    with pytest.raises(ValueError, match=r'\(N, 1, H, W\)'): m(torch.randn(1, 3, 64, 64))

def test_autoencoder_decoder_has_no_skips():
    m = encoder_unet('resnet18', 1, skips=False)
    assert m.decoder.blocks[0][0].in_channels == 512      # no concatenated encoder map
    assert m(torch.randn(1, 1, 64, 64)).shape == (1, 1, 64, 64)
