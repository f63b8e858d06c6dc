"""Issue 24 Deliver 1, ONNX "where it converts": every exportable `EXPORTERS` kind gets ONNX weights; onnxruntime on the package's
`weights.onnx` equals the PyTorch network within 1e-4 on an input size other than the export size; bioimageio.core runs the ONNX
weights (pre/post-processing included) to segkit's probabilities, and `test_model(weight_format='onnx')` passes; a network that does
not convert, or that onnxruntime does not reproduce, is written without ONNX and `skipped['onnx']` names why."""
import io, sys, zipfile
import numpy as np
import pytest
import torch

pytest.importorskip('bioimageio.core')
pytest.importorskip('onnx')
ort = pytest.importorskip('onnxruntime')
from segkit.core import normalize_percentile
from segkit.models.unet import UNet
from segkit.models.imunet import OneByOneUNet
import segkit.export as ex
from segkit.export import EXPORTERS, export_bioimageio, exporter_of, predict_package, segkit_probs, _tiny, _bioimageio
from segkit.export import test_input_from as input_from

KINDS = [k for k in EXPORTERS.names() if not EXPORTERS[k].reason]

_CACHE = {}

def _export(kind, path, **kw):
    "The tiny model of `kind` and its package (one export per kind for the whole module)."
    if kind in _CACHE: return _CACHE[kind]
    torch.manual_seed(0)   # the 1x1 U-Net at α = 0.25 and inputs /255 has all its ReLUs dead at init: a constant map would prove nothing
    net = (OneByOneUNet(1, 2, alpha=0.5, scale_input=False) if kind == 'imunet' else _tiny[kind]()).eval()
    auto = exporter_of(net)[0] == kind if kind in ('unet', 'imunet') else False
    _CACHE[kind] = net, export_bioimageio(net, path, kind=None if auto else kind, size=64, **kw)
    return _CACHE[kind]

def test_every_exportable_kind_is_listed():
    assert set(KINDS) == {'unet', 'boundary-unet', 'distance-unet', 'imunet'} and set(_tiny) >= set(KINDS)

@pytest.mark.parametrize('kind', KINDS)
def test_onnx_equals_segkit(kind, tmp_path_factory):
    net, r = _export(kind, tmp_path_factory.mktemp(kind) / 'm.zip')
    assert 'onnx' in r.formats and 'onnx' not in r.skipped, r.skipped
    head = exporter_of(net, None if kind in ('unet', 'imunet') else kind)[1].head
    x = input_from('nuclei', 48, 16)                                     # the test tensor is 64²: another size
    assert x.shape[-2:] == (48, 48)
    with zipfile.ZipFile(r.path) as z: sess = ort.InferenceSession(z.read('weights.onnx'), providers=['CPUExecutionProvider'])
    xn = np.stack([normalize_percentile(a) for a in np.concatenate([x, x[..., ::-1, :]])]).astype(np.float32)   # a batch of 2
    got = sess.run(None, {sess.get_inputs()[0].name: xn})[0]
    with torch.no_grad(): ref = net(torch.from_numpy(xn)).numpy()
    assert got.shape == ref.shape == (2, ref.shape[1], 48, 48)
    np.testing.assert_allclose(got, ref, atol=1e-4)
    assert ref.std() > 1e-4                                                 # not a constant map
    y_onnx = predict_package(r.path, x, weight_format='onnx')              # bioimageio.core: scale_range, clip, ONNX, activation
    np.testing.assert_allclose(y_onnx, segkit_probs(net, x, head=head), atol=1e-4)

@pytest.mark.parametrize('kind', ['unet', 'imunet'])
def test_bioimageio_core_tests_onnx(kind, tmp_path_factory):
    _, r = _export(kind, tmp_path_factory.mktemp(kind) / 'm.zip')
    s = _bioimageio()[1].test_model(r.path, weight_format='onnx')
    assert s.status == 'passed', s
    names = [d.name for d in s.details]
    assert any('(onnx)' in n for n in names) and not any('torchscript' in n for n in names)   # only the ONNX weights ran

def test_skipped_names_why(tmp_path, monkeypatch):
    net = UNet(1, 2, depth=2, base=4)
    monkeypatch.setattr(ex, 'onnx_error', lambda *a: 0.5)                   # onnxruntime disagrees
    r = export_bioimageio(net, tmp_path / 'a.zip', size=64)
    assert 'onnx' not in r.formats and r.skipped['onnx'].startswith('onnxruntime differs from the model by 0.5 (relative')
    with zipfile.ZipFile(r.path) as z: assert 'weights.onnx' not in z.namelist()
    monkeypatch.undo()
    def fail(*a, **k): raise RuntimeError('Exporting the operator foo to ONNX opset version 17 is not supported')
    monkeypatch.setattr(torch.onnx, 'export', fail)                          # a network that does not convert
    r = export_bioimageio(net, tmp_path / 'b.zip', size=64)
    assert r.skipped['onnx'] == 'RuntimeError: Exporting the operator foo to ONNX opset version 17 is not supported' and 'onnx' not in r.formats
    monkeypatch.setitem(sys.modules, 'onnx', None)                           # onnx not installed
    assert export_bioimageio(net, tmp_path / 'c', size=64).skipped == {'onnx': 'onnx is not installed'}
    assert export_bioimageio(net, tmp_path / 'd', size=64, onnx=False).skipped == {'onnx': 'onnx=False'}
