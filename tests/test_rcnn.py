"""Mask R-CNN / U-Mask R-CNN builders: no weight download anywhere, the thesis' parameter counts, a toy set trains end to end."""
import pytest, torch
import torch.hub
import torchvision.models._api as tv_api
from segkit.models.rcnn import mask_rcnn, umask_rcnn, UncertaintyRoIHeads, label_uncertainty_loss, umask_postprocess
from segkit.labels.objects import certainty_targets, to_bins

@pytest.fixture
def no_downloads(monkeypatch):
    def refuse(*a, **k): raise AssertionError(f"a weight download was attempted: {a[:1]}")
    monkeypatch.setattr(torch.hub, 'load_state_dict_from_url', refuse)
    monkeypatch.setattr(tv_api.WeightsEnum, 'get_state_dict', refuse)

@pytest.mark.parametrize('backbone', ['tiny', 'resnet18', 'resnet50_fpn'])
def test_builders_never_download_weights(no_downloads, backbone):
    m = mask_rcnn(backbone, size=64)
    assert m.transform.min_size == (64,) and m.transform.max_size == 64 and m.transform.image_mean == [0.]

def test_resnet50_fpn_has_the_thesis_size_and_the_head_its_6150_parameters(no_downloads):
    m = umask_rcnn(backbone='resnet50_fpn', n_in=3, size=64)
    assert sum(p.numel() for p in m.roi_heads.certainty.parameters()) == 6150
    n = sum(p.numel() for n_, p in m.named_parameters() if 'certainty' not in n_)
    assert round(n / 1e6, 1) == 44.0

def _toy(size=64):
    x = [torch.rand(1, size, size) * 0.2 for _ in range(2)]
    tgt = []
    for i, im in enumerate(x):
        m = torch.zeros(2, size, size, dtype=torch.uint8); m[0, 4:24, 4:24] = 1; m[1, 34 - i:56, 30:52] = 1
        im += m.sum(0) * 0.7
        g = certainty_targets([True, False], sigma=0.1, seed=i)
        tgt.append(dict(boxes=torch.tensor([[4., 4., 24., 24.], [30., 34. - i, 52., 56.]]), labels=torch.tensor([1, 1]), masks=m,
                        certainty_bin=torch.as_tensor(to_bins(g))))
    return x, tgt

def test_a_two_image_toy_set_trains_end_to_end_on_cpu():
    torch.manual_seed(0)
    m = umask_rcnn(backbone='tiny', size=64)
    x, tgt = _toy()
    opt = torch.optim.AdamW(m.parameters(), 1e-3)
    m.train(); first = None
    for _ in range(6):
        loss = sum(m(x, tgt).values()); opt.zero_grad(); loss.backward(); opt.step()
        first = first if first is not None else float(loss)
    assert float(loss) < first
    m.eval()
    with torch.no_grad(): out = m(x)
    assert 'certainty_logits' in out[0]
    post = umask_postprocess(out[0], theta_certain=0., theta_uncertain=0.)
    assert post['masks'].dtype == torch.bool and len(post['masks']) == len(post['scores'])

def test_bad_inputs():
    with pytest.raises(ValueError, match='`k`: expected at least 2'): UncertaintyRoIHeads(mask_rcnn('tiny', size=64).roi_heads, k=1)
    with pytest.raises(ValueError, match='`backbone`: expected one of'): mask_rcnn('alexnet')
    with pytest.raises(ValueError, match='`xi`'): label_uncertainty_loss(torch.zeros(1, 6), torch.zeros(1), xi=-1)
