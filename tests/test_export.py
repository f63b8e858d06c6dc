"""Issue 24: the bioimage.io round trip — a tiny U-Net trained a few steps on real nuclei crops → `export_bioimageio` →
`bioimageio.core.test_model` passes → the package predicts in a subprocess that never imports segkit → equal to segkit within 1e-5;
and the bad inputs (unexportable kind, wrong channel count, newer spec version)."""
import json, subprocess, sys, textwrap, zipfile
from pathlib import Path
import numpy as np
import pytest
import torch
from torch import nn

pytest.importorskip('bioimageio.core')
from segkit.core import center_crop
from segkit.data.sources import get_source
from segkit.data.block import seg_dls
from segkit.learner import seg_learner
from segkit.models.unet import UNet
from segkit.export import (export_bioimageio, export_cli, exporter_of, load_exportable, predict_package, check_package,
                           segkit_probs, NotExportable, EXPORTERS)

@pytest.fixture(scope='module')
def run_dir(tmp_path_factory):
    "A run folder: a depth-2 U-Net trained 2 steps on 64² crops of real nuclei images, `checkpoints/last.pth` and `config.json`."
    d = tmp_path_factory.mktemp('run')
    ds = get_source('nuclei')
    (ti, tl), (vi, vl) = ds.arrays('train', 'foreground'), ds.arrays('valid', 'foreground')
    tr = ([center_crop(a, 128) for a in ti[:4]], [center_crop(a, 128) for a in tl[:4]])
    va = ([center_crop(a, 64) for a in vi[:2]], [center_crop(a, 64) for a in vl[:2]])
    cfg = dict(recipe='test-export', source='nuclei', depth=2, base=4, epochs=1, lr=3e-3)
    (d / 'config.json').write_text(json.dumps(cfg))
    torch.manual_seed(0)
    dls = seg_dls(tr, va, bs=4, crop=64, epoch_len=8, seed=0, device='cpu')
    learn = seg_learner(dls, 2, depth=2, base=4, ckpt_dir=d / 'checkpoints')
    with learn.no_bar(), learn.no_logging(): learn.fit_one_cycle(1, 3e-3)
    assert (d / 'checkpoints' / 'last.pth').exists()
    return d

@pytest.fixture(scope='module')
def package(run_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp('pkg') / 'model.zip'
    return export_cli(run_dir, out, size=64)   # validate=True: bioimageio.core.test_model must pass

STANDALONE = textwrap.dedent('''
    import sys, numpy as np
    import bioimageio.core as bc
    pkg, x_in, y_out = sys.argv[1:4]
    pp = bc.create_prediction_pipeline(bc.load_model_description(pkg), weight_format='torchscript')
    res = bc.predict(model=pp, inputs={'raw': np.load(x_in)})
    np.save(y_out, np.asarray(res.members['probabilities'].data))
    assert 'segkit' not in sys.modules, 'the package must run without segkit'
    print('ok')
''')

def test_round_trip(run_dir, package, tmp_path):
    assert package.status == 'passed' and {'torchscript', 'pytorch_state_dict'} <= set(package.formats)
    rdf = check_package(package.path)
    assert rdf['config']['segkit']['training']['recipe'] == 'test-export' and rdf['covers'] and len(rdf['cite']) >= 3
    assert any('mnfinder' in c['text'] for c in rdf['cite'])
    model, _ = load_exportable(run_dir)
    raw = center_crop(get_source('nuclei').arrays('test', None, normalize=False)[0][0].astype(np.float32), 96)[None, None]   # not the test tensor, another size
    np.save(tmp_path / 'x.npy', raw)
    r = subprocess.run([sys.executable, '-c', STANDALONE, str(package.path), str(tmp_path / 'x.npy'), str(tmp_path / 'y.npy')],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and r.stdout.strip().endswith('ok'), r.stderr[-2000:]
    y_pkg, y_seg = np.load(tmp_path / 'y.npy'), segkit_probs(model, raw)
    assert y_pkg.shape == y_seg.shape == (1, 2, 96, 96)
    np.testing.assert_allclose(y_pkg, y_seg, atol=1e-5)
    assert not np.allclose(y_seg[:, 1], y_seg[:, 1].mean(), atol=1e-3)   # a real, non-constant prediction

def test_unexportable_kind(run_dir, tmp_path):
    class MaskRCNN(nn.Module): pass
    with pytest.raises(NotExportable, match='not exportable yet: torchvision detection models do not trace'): exporter_of(MaskRCNN())
    with pytest.raises(NotExportable, match='not exportable yet'): export_bioimageio(run_dir, tmp_path / 'm.zip', kind='maskrcnn')
    with pytest.raises(NotExportable, match='no exporter for this model class'): export_bioimageio(nn.Conv2d(1, 2, 1), tmp_path / 'm.zip')
    assert 'unet' in EXPORTERS.names() and EXPORTERS.meta('unet') is not None

def test_wrong_channels(package, tmp_path):
    with pytest.raises(ValueError, match=r'`image`: the package expects 1 channel\(s\) \(c0\)'):
        predict_package(package.path, np.zeros((3, 64, 64), np.float32))
    with pytest.raises(ValueError, match='`test_input`: the model expects 1 channel'):
        export_bioimageio(UNet(1, 2, depth=2, base=4), tmp_path / 'm.zip', test_input=np.zeros((2, 64, 64), np.float32))

def test_newer_spec_version(package, tmp_path):
    fut = tmp_path / 'future.zip'
    with zipfile.ZipFile(package.path) as z, zipfile.ZipFile(fut, 'w') as f:
        for n in z.namelist():
            b = z.read(n)
            if n.endswith('rdf.yaml'): b = b.replace(b'format_version: 0.5.', b'format_version: 0.7.')
            f.writestr(n, b)
    with pytest.raises(ValueError, match='spec version 0.7.* is newer than the installed bioimageio.spec'): check_package(fut)
    with pytest.raises(ValueError, match='is newer'): predict_package(fut, np.zeros((64, 64), np.float32))

def test_export_leaves_the_model_alone(tmp_path):
    net = UNet(1, 2, depth=2, base=4).train()
    r = export_bioimageio(net, tmp_path / 'pkg', size=64)   # a folder package
    assert net.training and (tmp_path / 'pkg' / 'rdf.yaml').exists() and r.status is None
    assert check_package(tmp_path / 'pkg')['config']['segkit']['kind'] == 'unet'
