"""Issue 24 item 3: `segkit predict` on a bioimage.io package — a tiny U-Net exported from a run folder predicts from the zip with
`predict_files` exactly as from the run folder; URLs, newer spec versions, foreign pre-processing and wrong channel counts are refused."""
import json, zipfile
from pathlib import Path
import numpy as np
import pytest
import torch

pytest.importorskip('bioimageio.core')
from segkit.core import center_crop
from segkit.data.sources import get_source
from segkit.models.unet import UNet
from segkit.export import export_bioimageio
from segkit.predict import load_predictor, predict_files, predict_image, PackagePredictor

@pytest.fixture(scope='module')
def setup(tmp_path_factory):
    d = tmp_path_factory.mktemp('pp')
    run = d / 'run'; (run / 'checkpoints').mkdir(parents=True)
    torch.manual_seed(0); net = UNet(1, 2, depth=2, base=4)
    torch.save({'model': net.state_dict(), 'epoch': 0}, run / 'checkpoints' / 'last.pth')
    (run / 'config.json').write_text(json.dumps(dict(recipe='test-predict-package', source='nuclei')))
    pkg = export_bioimageio(run, d / 'model.zip', size=64, onnx=False).path
    imgs = d / 'images'; imgs.mkdir()
    ds = get_source('nuclei')
    for k, a in enumerate(ds.arrays('test', None, normalize=False)[0][:2]): np.save(imgs / f'im{k}.npy', center_crop(np.asarray(a, np.float32), 100))
    return run, pkg, imgs, d

def _read(f): return np.load(f) if f.suffix == '.npy' else __import__('tifffile').imread(f)

@pytest.mark.parametrize('folder', [False, True])
def test_package_equals_run(setup, folder):
    run, pkg, imgs, d = setup
    if folder:
        pkg2 = d / 'unzipped'
        if not pkg2.exists(): zipfile.ZipFile(pkg).extractall(pkg2)
        pkg = pkg2
    a = predict_files(run, imgs, d / f'out_run{folder}', tile=64, overlap=16, probs=True, device='cpu', progress=False)
    b = predict_files(pkg, imgs, d / f'out_pkg{folder}', tile=64, overlap=16, probs=True, device='cpu', progress=False)
    assert len(a) == len(b) == 2
    for f in sorted((d / f'out_run{folder}' / 'probs').iterdir()):
        pa, pb = _read(f), _read(d / f'out_pkg{folder}' / 'probs' / f.name)
        assert pa.shape == pb.shape == (2, 100, 100)
        np.testing.assert_allclose(pb, pa, atol=1e-5)
    assert json.loads((d / f'out_pkg{folder}' / 'predict.json').read_text())['kind'] == 'bioimageio'

def test_refusals(setup, tmp_path):
    run, pkg, imgs, d = setup
    with pytest.raises(ValueError, match='is a URL; segkit does not download'): load_predictor('https://bioimage.io/some/model.zip')
    pp = load_predictor(pkg, 'cpu')
    assert isinstance(pp, PackagePredictor) and pp.activation == 'softmax' and pp.spec['weights'] == 'pytorch_state_dict'
    with pytest.raises(ValueError, match='the package expects axes bcyx'): predict_image(pp, np.zeros((3, 32, 32), np.float32))
    def edit(name, old, new):
        f = tmp_path / name
        with zipfile.ZipFile(pkg) as z, zipfile.ZipFile(f, 'w') as o:
            for n in z.namelist():
                b = z.read(n)
                if n.endswith('rdf.yaml'): assert old in b; b = b.replace(old, new)
                o.writestr(n, b)
        return f
    with pytest.raises(ValueError, match='spec version 0.7.* is newer'): load_predictor(edit('new.zip', b'format_version: 0.5.', b'format_version: 0.7.'))
    with pytest.raises(ValueError, match=r"zmuv.zip pre-processes with \['zero_mean_unit_variance'\]; segkit applies only"):
        load_predictor(edit('zmuv.zip', b'id: scale_range', b'id: zero_mean_unit_variance'))
    ts = load_predictor(edit('ts.zip', b'import_from: segkit.models.unet', b'import_from: other.models.unet'), 'cpu')   # not a segkit architecture: TorchScript
    assert ts.spec['weights'] == 'torchscript'
    x = np.random.default_rng(0).random((1, 48, 48)).astype(np.float32)
    np.testing.assert_allclose(ts.maps(x, tile=32, overlap=8), pp.maps(x, tile=32, overlap=8), atol=1e-5)

@pytest.mark.parametrize('kind,n_out,post', [('distance-unet', 2, 'scherr'), ('boundary-unet', 1, 'mws'), ('boundary-unet', 2, 'mws')])
def test_map_packages_give_instances(kind, n_out, post, tmp_path):
    "Boundary / distance U-Net packages: `postprocess='auto'` applies the segkit post-processor the package documents."
    torch.manual_seed(0); net = UNet(1, n_out, depth=2, base=4)
    pp = load_predictor(export_bioimageio(net, tmp_path / 'm.zip', kind=kind, size=64, onnx=False).path, 'cpu')
    assert (pp.post, pp.activation) == (post, None if kind == 'distance-unet' else 'sigmoid')
    r = predict_image(pp, np.random.default_rng(0).random((64, 64)).astype(np.float32), tile=32, overlap=8)
    assert r['probs'].shape == (n_out, 64, 64) and r['instances'].shape == (64, 64) and r['instances'].dtype.kind == 'i'
