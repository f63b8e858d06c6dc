"""Issue 24 item 4: the boundary / distance U-Nets (PlantSeg issue) and the IM paper's 1x1 U-Net export as bioimage.io packages:
`bioimageio.core.test_model` passes, the TorchScript output equals segkit's within 1e-5, and the package records its head and post-processor."""
import numpy as np
import pytest
import torch

pytest.importorskip('bioimageio.core')
from segkit.models.unet import UNet
from segkit.models.imunet import OneByOneUNet
from segkit.export import export_bioimageio, exporter_of, check_package, predict_package, segkit_probs, NotExportable
from segkit.export import test_input_from as input_from

CASES = {'boundary-unet': (lambda: UNet(1, 2, depth=2, base=4), 'boundaries', ['foreground', 'boundary'], 'mws', 4),
         'distance-unet': (lambda: UNet(1, 2, depth=2, base=4), 'distances', ['cell_distance', 'neighbor_distance'], 'scherr', 4),
         'imunet': (lambda: OneByOneUNet(1, 2, alpha=0.25), 'probabilities', None, None, 16)}

@pytest.mark.parametrize('kind', list(CASES))
def test_round_trip(kind, tmp_path):
    build, oid, chans, post, step = CASES[kind]
    torch.manual_seed(0); net = build().eval()
    r = export_bioimageio(net, tmp_path / 'm.zip', kind=None if kind == 'imunet' else kind, size=64, onnx=False, validate=True)
    assert r.status == 'passed'
    rdf = check_package(r.path)
    out = rdf['outputs'][0]
    assert out['id'] == oid and rdf['config']['segkit']['kind'] == kind and rdf['config']['segkit']['postprocess'] == post
    if chans: assert [a for a in out['axes'] if a['type'] == 'channel'][0]['channel_names'] == chans
    sp = [a for a in rdf['inputs'][0]['axes'] if a.get('id') == 'y'][0]['size']
    assert sp == {'min': step, 'step': step}
    x = input_from('nuclei', 48, step)                 # another size than the test tensor
    y_pkg, y_seg = predict_package(r.path, x), segkit_probs(net, x, head=exporter_of(net, None if kind == 'imunet' else kind)[1].head)
    assert y_pkg.shape == y_seg.shape and y_pkg.shape[-1] == x.shape[-1]
    np.testing.assert_allclose(y_pkg, y_seg, atol=1e-5)
    if kind == 'distance-unet': assert (y_seg < 0).any() or (y_seg > 1).any() or not post   # raw maps: no sigmoid was applied
    if kind == 'boundary-unet': assert 0 <= y_seg.min() and y_seg.max() <= 1 and not np.allclose(y_seg.sum(1), 1)   # sigmoid, not softmax

def test_kind_must_fit():
    with pytest.raises(NotExportable, match="`kind`: 'imunet' exports segkit.models.imunet.OneByOneUNet, got a UNet"):
        exporter_of(UNet(1, 2, depth=2, base=4), 'imunet')
    assert exporter_of(UNet(1, 2, depth=2, base=4))[0] == 'unet'     # boundary/distance U-Nets are only chosen by name
