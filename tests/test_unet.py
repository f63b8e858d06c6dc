"""U-Net: any size in, same size out; the thesis configuration; the decoder variants train."""
import pytest
import torch
from segkit.models.unet import UNet, n_params, segnet_like

@pytest.mark.parametrize('up', ['unpool', 'upconv'])
@pytest.mark.parametrize('hw', [(16, 16), (33, 47), (5, 9)])
def test_shapes(up, hw):
    m = UNet(2, 3, depth=3, base=4, up=up)
    assert m(torch.randn(2, 2, *hw)).shape == (2, 3, *hw)

def test_thesis_configuration_size():
    n = n_params(UNet(1, 2))           # 4 levels, 64 → 1024 feature maps
    assert 25e6 < n < 40e6, n

def test_no_skips_for_autoencoder():
    m = UNet(1, 1, depth=2, base=4, skips=False)
    assert m.decoder[0][0].in_channels == 8   # no concatenation

def test_overfits_one_batch():
    torch.manual_seed(0)
    x = torch.randn(2, 1, 16, 16); y = (x[:, 0] > 0).long()
    m = UNet(1, 2, depth=2, base=8); opt = torch.optim.Adam(m.parameters(), 1e-2)
    for _ in range(60):
        opt.zero_grad(); loss = torch.nn.functional.cross_entropy(m(x), y); loss.backward(); opt.step()
    assert (m(x).argmax(1) == y).float().mean() > 0.95

def test_bad_arguments():
    with pytest.raises(ValueError, match="'unpool' or 'upconv'"): UNet(up='bilinear')
    with pytest.raises(ValueError, match='expected \\(N, 1, H, W\\)'): UNet(1, 2, depth=1, base=2)(torch.randn(1, 3, 8, 8))

def test_segnet_like_has_no_skips_and_unpools():
    sn = segnet_like(1, 2, depth=3, base=4)
    assert (sn.up, sn.skips) == ('unpool', False)
    assert [d[0].in_channels for d in sn.decoder] == [16, 8, 4]
    assert n_params(sn) < n_params(UNet(1, 2, depth=3, base=4))
    assert sn(torch.randn(1, 1, 21, 30)).shape == (1, 2, 21, 30)

def test_segnet_like_decoder_ignores_encoder_features():
    "Without skips, the output depends on the encoder only through the bottleneck and the pooling indices."
    torch.manual_seed(0)
    sn = segnet_like(1, 2, depth=2, base=4).eval()
    x = torch.randn(1, 1, 16, 16)
    seen = []
    h = sn.decoder[0].register_forward_hook(lambda m, i, o: seen.append(i[0].shape[1]))
    try: sn(x)
    finally: h.remove()
    assert seen == [8]
