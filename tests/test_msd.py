"""MSD: Pelt & Sethian's parameter formula, size-preserving output, features, checkpointing and inference paths agree, bad input."""
import pytest
import torch
from segkit.models.msd import MSD, msd_param_count
from segkit.models.unet import n_params

def test_paper_parameter_count():
    assert msd_param_count(100, 1, 1, 2) == 45_754
    assert n_params(MSD(1, 2, depth=100)) == 45_754

@pytest.mark.parametrize('d,w,c,n', [(1, 1, 1, 1), (7, 3, 2, 5), (25, 1, 3, 2), (50, 2, 1, 1)])
def test_formula_grid(d, w, c, n):
    assert n_params(MSD(c, n, depth=d, width=w)) == msd_param_count(d, w, c, n)

@pytest.mark.parametrize('hw', [(16, 16), (17, 17), (21, 30), (31, 12)])
def test_output_size_odd_even(hw):
    m = MSD(2, 3, depth=11, width=2)
    assert m(torch.randn(2, 2, *hw)).shape == (2, 3, *hw)
    assert m.features(torch.randn(1, 2, *hw)).shape == (1, 22, *hw)

def test_dilations_cycle():
    m = MSD(depth=23, dilations=(1, 2, 3))
    assert [l.dilation[0] for l in m.layers] == [1, 2, 3] * 7 + [1, 2]
    assert [l.in_channels for l in m.layers[:4]] == [1, 2, 3, 4]
    assert m.head.in_channels == 24

def test_dense_connectivity():
    "Every layer's output depends on the input and on every earlier layer: perturbing layer 0 changes the head input of all layers."
    torch.manual_seed(0)
    m = MSD(1, 1, depth=6, padding_mode='zeros')
    x = torch.rand(1, 1, 20, 20, requires_grad=True)
    f = m.features(x)
    for k in range(6):
        g, = torch.autograd.grad(f[0, k].sum(), x, retain_graph=True)
        assert g.abs().sum() > 0

def test_checkpoint_and_inference_agree():
    torch.manual_seed(0)
    x = torch.randn(3, 2, 23, 26)
    a = MSD(2, 2, depth=17, width=2); b = MSD(2, 2, depth=17, width=2, checkpoint_every=4); b.load_state_dict(a.state_dict())
    ya, yb = a(x), b(x)
    torch.testing.assert_close(ya, yb)
    ya.sum().backward(); yb.sum().backward()
    for p, q in zip(a.parameters(), b.parameters()): torch.testing.assert_close(p.grad, q.grad, rtol=1e-4, atol=1e-5)
    with torch.no_grad(): torch.testing.assert_close(a(x), ya, rtol=1e-5, atol=1e-6)

def test_learns_a_threshold():
    torch.manual_seed(0)
    x = torch.rand(4, 1, 24, 24); y = (x[:, 0] > 0.5).long()
    m = MSD(1, 2, depth=8); opt = torch.optim.Adam(m.parameters(), 1e-2)
    for _ in range(80):
        opt.zero_grad(); loss = torch.nn.functional.cross_entropy(m(x), y); loss.backward(); opt.step()
    assert (m(x).argmax(1) == y).float().mean() > 0.95

def test_bad_input():
    with pytest.raises(ValueError, match='`depth`: expected an integer ≥ 1'): MSD(depth=0)
    with pytest.raises(ValueError, match='`width`'): MSD(width=0)
    with pytest.raises(ValueError, match='`dilations`: expected a non-empty'): MSD(dilations=())
    with pytest.raises(ValueError, match='`dilations`'): MSD(dilations=(1, 0))
    with pytest.raises(ValueError, match='`checkpoint_every`'): MSD(checkpoint_every=-1)
    with pytest.raises(ValueError, match='`padding_mode`'): MSD(padding_mode='circular')
    with pytest.raises(ValueError, match=r'expected \(N, 1, H, W\)'): MSD(depth=2)(torch.randn(1, 2, 16, 16))
    with pytest.raises(ValueError, match='reflect padding needs H and W > 10'): MSD(depth=12)(torch.randn(1, 1, 10, 32))

@pytest.mark.cuda
def test_cuda_matches_cpu():
    if not torch.cuda.is_available(): pytest.skip('no CUDA device')
    torch.manual_seed(0)
    m = MSD(1, 2, depth=20, checkpoint_every=5); x = torch.randn(2, 1, 40, 40)
    y = m(x)
    yc = m.cuda()(x.cuda())
    torch.testing.assert_close(yc.cpu(), y, rtol=1e-3, atol=1e-4)
    yc.sum().backward()
