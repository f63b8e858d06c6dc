"""One weights module: reading checkpoints, the one RGB → n-channel rule shared by every loader, load reports,
the model registries' smoke checks, and registrations that need no import order (fresh interpreters)."""
import subprocess, sys
import pytest
import torch
import torchvision
from torch import nn
from segkit.models.weights import load_state, adapt_first_conv, load_into, LoadReport, WeightsMismatch
from segkit.models.encoders import ENCODERS, get_encoder, load_encoder_weights, convert_efficientnet_lite0, _LITE0_BLOCKS
from segkit.models.classifiers import ARCHS, site_classifier, adapt_conv_weight, conv_layers, conv_layer_names
from segkit.models.dynamic import resnet_body
from segkit.losses import LOSSES

# ---- load_state

def test_load_state_unwraps_and_names_the_file(tmp_path):
    sd = nn.Linear(2, 3).state_dict()
    torch.save({'state_dict': sd, 'epoch': 3}, tmp_path / 'a.pth')
    assert set(load_state(tmp_path / 'a.pth')) == {'weight', 'bias'}
    torch.save({'model': {'state_dict': sd}}, tmp_path / 'b.pth')
    assert set(load_state(tmp_path / 'b.pth')) == {'weight', 'bias'}            # nested wrappers, in order
    assert load_state(sd) is sd                                                   # a dict passes through
    with pytest.raises(FileNotFoundError, match=r'`weights_path`: no file at .*none\.pth'): load_state(tmp_path / 'none.pth')
    (tmp_path / 'junk.pth').write_text('hello')
    with pytest.raises(ValueError, match=r'junk\.pth is not a readable torch checkpoint'): load_state(tmp_path / 'junk.pth')
    torch.save([1, 2], tmp_path / 'list.pth')
    with pytest.raises(ValueError, match='holds a list, not a state dict'): load_state(tmp_path / 'list.pth')
    torch.save({'epoch': 3, 'w': torch.zeros(1)}, tmp_path / 'mixed.pth')
    with pytest.raises(ValueError, match=r"\['epoch'\] are not tensors"): load_state(tmp_path / 'mixed.pth', name='ckpt')

# ---- adapt_first_conv: one rule

@pytest.mark.parametrize('n_in', [1, 2, 4])
def test_adapted_filters_keep_the_response_to_a_grey_image(n_in):
    torch.manual_seed(0)
    rgb = nn.Conv2d(3, 8, 3, bias=False); g = torch.rand(2, 1, 12, 12)
    c = nn.Conv2d(n_in, 8, 3, bias=False); c.weight.data = adapt_first_conv(rgb.weight.data, n_in)
    assert torch.allclose(c(g.expand(-1, n_in, -1, -1)), rgb(g.expand(-1, 3, -1, -1)), atol=1e-5)

def test_adapt_first_conv_is_the_old_classifier_rule_and_checks_input():
    w = torch.randn(4, 3, 3, 3)
    assert adapt_conv_weight is adapt_first_conv
    assert torch.allclose(adapt_first_conv(w, 1), w.sum(1, keepdim=True))
    assert torch.allclose(adapt_first_conv(w, 5), w.mean(1, keepdim=True).repeat(1, 5, 1, 1) * 3 / 5)   # the old `adapt_conv_weight`
    assert adapt_first_conv(w, 3) is w
    with pytest.raises(ValueError, match='4D'): adapt_first_conv(torch.zeros(3, 3), 1)
    with pytest.raises(ValueError, match='n_in'): adapt_first_conv(w, 0)

@pytest.mark.parametrize('n_in', [1, 2])
def test_the_three_loaders_use_the_same_rule(tmp_path, n_in):
    rgb = torchvision.models.resnet18(weights=None)
    torch.save(rgb.state_dict(), tmp_path / 'rgb.pth')
    want = adapt_first_conv(rgb.conv1.weight.detach(), n_in)
    enc = get_encoder('resnet18', n_in=n_in, weights_path=tmp_path / 'rgb.pth')
    body = resnet_body('resnet18', n_in=n_in, weights_path=tmp_path / 'rgb.pth')
    clf = site_classifier('resnet18', n_in=n_in, weights_path=tmp_path / 'rgb.pth', verbose=False)
    for w in (enc.body.conv1.weight, body[0].weight, clf.conv1.weight): assert torch.allclose(w, want)
    assert torch.equal(body[4][0].conv1.weight, rgb.layer1[0].conv1.weight) and torch.equal(clf.layer4[1].bn2.bias, rgb.layer4[1].bn2.bias)

# ---- load_into

def test_load_into_reports_and_raises_one_error_type():
    src, dst = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Flatten(), nn.Linear(4, 10)), nn.Sequential(nn.Conv2d(1, 4, 3), nn.Flatten(), nn.Linear(4, 2))
    rep = load_into(dst, src.state_dict(), head_prefixes=('2.',))
    assert isinstance(rep, LoadReport) and rep.ok
    assert rep.adapted == ['0.weight'] and rep.skipped_head == ['2.weight', '2.bias'] and rep.loaded == ['0.weight', '0.bias']
    assert rep.counts() == dict(loaded=2, adapted=1, skipped_head=2, missing=0, unexpected=0, mismatched=0)
    with pytest.raises(WeightsMismatch, match=r"'2.weight' with shape \(10, 4\)"): load_into(dst, src.state_dict(), source='x.pth')
    with pytest.raises(KeyError, match='x.pth lacks 2'): load_into(dst, {'0.weight': src[0].weight, '0.bias': src[0].bias}, source='x.pth')
    with pytest.raises(ValueError, match="tensors that Sequential does not have, e.g. \\['9.w'\\]"):
        load_into(dst, {**dst.state_dict(), '9.w': torch.zeros(1)})
    before = dst[2].weight.clone()
    rep = load_into(dst, {'0.bias': torch.ones(4), '9.w': torch.zeros(1)}, strict=False)
    assert not rep.ok and rep.unexpected == ['9.w'] and len(rep.missing) == 3
    assert torch.equal(dst[0].bias, torch.ones(4)) and torch.equal(dst[2].weight, before)
    # only RGB (3-channel) first convolutions are adapted unless `first_conv` names the tensor
    two = nn.Conv2d(2, 4, 3).state_dict()
    assert load_into(nn.Conv2d(1, 4, 3), two, strict=False).mismatched == [('weight', (4, 2, 3, 3), (4, 1, 3, 3))]
    assert load_into(nn.Conv2d(1, 4, 3), two, first_conv='weight').adapted == ['weight']

# ---- EfficientNet-Lite0 lives in models.encoders

def _wheel_format(enc):
    "An EfficientNet-PyTorch-layout checkpoint (names built independently of the converter) from an RGB Lite0 encoder."
    flat = {(s, j): i for i, (s, j) in enumerate((s, j) for s, n in enumerate(_LITE0_BLOCKS) for j in range(n))}
    sd = {}
    for k, v in enc.state_dict().items():
        p = k.split('.')[1:]
        if p[0] == 'conv_stem': nk = '_conv_stem.weight'
        elif p[0] == 'bn1': nk = '_bn0.' + p[1]
        else:
            i = flat[int(p[1]), int(p[2])]
            ren = ({'conv_dw': '_depthwise_conv', 'bn1': '_bn1', 'conv_pw': '_project_conv', 'bn2': '_bn2'} if i == 0 else
                   {'conv_pw': '_expand_conv', 'bn1': '_bn0', 'conv_dw': '_depthwise_conv', 'bn2': '_bn1', 'conv_pwl': '_project_conv', 'bn3': '_bn2'})
            nk = f'_blocks.{i}.{ren[p[3]]}.{p[4]}'
        sd[nk] = v + 0.5 if v.is_floating_point() else v
    sd.update({'_conv_head.weight': torch.zeros(1280, 320, 1, 1), '_fc.weight': torch.zeros(1000, 1280), '_fc.bias': torch.zeros(1000)})
    return sd

def test_lite0_wheel_checkpoint_loads_through_get_encoder(tmp_path):
    sd = _wheel_format(get_encoder('efficientnet_lite0', n_in=3)); torch.save(sd, tmp_path / 'lite0.pth')
    enc = get_encoder('efficientnet_lite0', weights_path=tmp_path / 'lite0.pth')
    own = enc.state_dict()
    assert torch.allclose(own['body.conv_stem.weight'], sd['_conv_stem.weight'].sum(1, keepdim=True))
    assert torch.equal(own['body.blocks.6.0.conv_pwl.weight'], sd['_blocks.15._project_conv.weight'])
    assert set(convert_efficientnet_lite0(sd)) == set(get_encoder('efficientnet_lite0', n_in=3).state_dict())

def _fresh(code):
    r = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    return r.stdout

def test_fresh_interpreter_builds_lite0_and_vgg11_slim(tmp_path):
    sd = _wheel_format(get_encoder('efficientnet_lite0', n_in=3)); torch.save(sd, tmp_path / 'lite0.pth')
    out = _fresh(f"""import sys, torch
from segkit.models.encoders import get_encoder
enc = get_encoder('efficientnet_lite0', weights_path={str(tmp_path / 'lite0.pth')!r})
from segkit.models.classifiers import site_classifier
m = site_classifier('vgg11_slim')
print(tuple(m(torch.zeros(2, 1, 32, 32)).shape), enc.channels[-1], sorted(k for k in sys.modules if k.startswith(('segkit.selfsl', 'segkit.recipes'))))""")
    assert out.strip() == '(2, 2) 320 []'

# ---- registries: every entry passes its smoke check

@pytest.mark.parametrize('name', ENCODERS.names())
def test_every_encoder_passes_its_smoke_check(name): ENCODERS.check(name)

@pytest.mark.parametrize('name', ARCHS.names())
def test_every_architecture_passes_its_smoke_check(name): ARCHS.check(name)

@pytest.mark.parametrize('name', LOSSES.names())
def test_every_loss_passes_its_smoke_check(name): LOSSES.check(name)

def test_arch_registry_keeps_the_layer_names_and_refuses_a_taken_name():
    assert ARCHS['vgg16'].cam_layer == 'features.29' and ARCHS['resnet34'].blocks == ('layer1', 'layer2', 'layer3', 'layer4')
    assert ARCHS.meta('vgg11_slim')['weights'] is None and ARCHS.table().loc['densenet121', 'first_conv'] == 'features.conv0'
    assert isinstance(ARCHS.build('resnet18', 2), torchvision.models.ResNet)
    with pytest.raises(ValueError, match='already registered'):
        ARCHS.register('resnet18', 'conv1', 'fc', ('layer4',), 'layer4')(lambda n_out: None)
    with pytest.raises(KeyError, match="unknown architecture 'alexnet'; known: densenet121"): site_classifier('alexnet')
    with pytest.raises(ValueError, match='no pretrained weights'): site_classifier('vgg11_slim', pretrained=True)
    m = site_classifier('vgg11_slim')
    assert conv_layer_names is conv_layers and conv_layers(m)[0] == ARCHS['vgg11_slim'].first_conv
