"""Issue 24 Deliver 3, `segkit finetune` from a package: a tiny U-Net exported to bioimage.io → fine-tuned 1 epoch from the package (Python
twin on your folder of real nuclei crops; the CLI on the package's own source) → it started from exactly the package's weights, the
weights changed, the loss is finite, the run folder has its report, model.json and a re-exported package that predicts; packages that
segkit cannot rebuild (TorchScript / ONNX only, a foreign architecture) are refused with one line and no run folder."""
import io, json, zipfile
from pathlib import Path
import numpy as np
import pytest
import torch
import yaml

pytest.importorskip('bioimageio.core')
from segkit.core import center_crop
from segkit.data.sources import get_source
from segkit.models.unet import UNet
from segkit.export import export_bioimageio, finetune_package, model_from_package, check_package, NotSegkitPackage, unet_kwargs
from segkit.predict import load_predictor
from segkit.cli import main

@pytest.fixture(scope='module')
def pkg(tmp_path_factory):
    "A tiny U-Net package (2 classes: background, nucleus) and the network it holds."
    d = tmp_path_factory.mktemp('ftpkg')
    torch.manual_seed(0); net = UNet(1, 2, depth=2, base=4).eval()
    return export_bioimageio(net, d / 'model.zip', size=64, onnx=False, config=dict(recipe='test-finetune', source='nuclei')).path, net

@pytest.fixture(scope='module')
def folder(tmp_path_factory):
    "Your folder: 6 raw 96² crops of real nuclei images with their foreground masks, images/ + masks/ + codes.txt."
    d = tmp_path_factory.mktemp('myfolder'); (d / 'images').mkdir(); (d / 'masks').mkdir()
    ims, lbs = get_source('nuclei').arrays('train', 'foreground', normalize=False)
    for k in range(6):
        np.save(d / 'images' / f'im{k}.npy', center_crop(np.asarray(ims[k], np.float32), 96))
        np.save(d / 'masks' / f'im{k}.npy', center_crop(np.asarray(lbs[k]), 96).astype(np.uint8))
    (d / 'codes.txt').write_text('background\nnucleus\n')
    return d

def _package_state(p):
    rdf = check_package(p)
    with zipfile.ZipFile(p) as z: return torch.load(io.BytesIO(z.read(rdf['weights']['pytorch_state_dict']['source'])), weights_only=True)

def test_model_from_package(pkg):
    p, net = pkg
    m, kind, rdf = model_from_package(p)
    assert kind == 'unet' and unet_kwargs(m) == unet_kwargs(net) and not m.training
    sd = _package_state(p)
    assert all(torch.equal(m.state_dict()[k], sd[k]) for k in sd) and set(sd) == set(m.state_dict())

def test_finetune_from_package_on_a_folder(pkg, folder, tmp_path):
    p, net = pkg
    ft = finetune_package(p, path=folder, epochs=1, out=tmp_path, bs=4, crop=64, epoch_len=8, export=False, device='cpu')
    sd = _package_state(p)
    assert all(torch.equal(ft.start[k], sd[k]) for k in sd)                       # it started from the package's weights
    after = ft.model.state_dict()
    assert sum(not torch.equal(after[k], sd[k]) for k in sd if sd[k].is_floating_point()) >= len(sd) // 2   # and trained them
    assert np.isfinite(ft.metrics['final_train_loss']) and np.isfinite(ft.metrics['valid_loss_after'])
    cfg = json.loads((ft.run.path / 'config.json').read_text())
    assert (cfg['source'], cfg['layer'], cfg['kind'], cfg['trained_before']['recipe']) == ('folder', 'mask', 'unet', 'test-finetune')
    assert json.loads((ft.run.path / 'status.json').read_text())['state'] == 'complete'
    hist = (ft.run.path / 'history.csv').read_text().splitlines()
    assert len(hist) == 2 and hist[0].startswith('epoch,train_loss,valid_loss')     # one header, one epoch (no validate rows)
    pred = load_predictor(ft.run.path, 'cpu')                                       # `segkit predict RUN` reads model.json + last.pth
    assert all(torch.equal(pred.model.state_dict()[k].cpu(), after[k]) for k in after)

def test_cli_finetune_from_package(pkg, tmp_path, capsys):
    p, net = pkg
    rc = main(['finetune', str(p), '--epochs', '1', '--out', str(tmp_path), '--bs', '4', '--epoch_len', '8', '--device', 'cpu'])
    out = capsys.readouterr()
    assert rc == 0, out.err
    run = next(tmp_path.glob('finetune-*'))
    assert 'fine-tuned 1 epoch(s) on' in out.out and str(run) in out.out
    assert 'valid_loss_before' in (run / 'report.md').read_text()
    assert check_package(run / 'model.zip')['config']['segkit']['training']['package_name'] == check_package(p)['name']
    m2, kind, _ = model_from_package(run / 'model.zip')                            # the re-exported package holds the new weights
    assert kind == 'unet' and not all(torch.equal(a, b) for a, b in zip(m2.state_dict().values(), net.state_dict().values()))
    rc = main(['finetune', str(p), '--frozen', '--out', str(tmp_path)])
    assert rc == 2 and '--frozen: applies to encoder weights' in capsys.readouterr().err

def _rewrite(p, out, edit):
    "A copy of package `p` whose rdf.yaml went through `edit`."
    with zipfile.ZipFile(p) as z, zipfile.ZipFile(out, 'w') as f:
        for n in z.namelist():
            b = z.read(n)
            if n.endswith('rdf.yaml'): y = yaml.safe_load(b); edit(y); b = yaml.safe_dump(y).encode()
            f.writestr(n, b)
    return out

def test_refused_packages(pkg, tmp_path, capsys):
    p, _ = pkg
    def ts_only(y): y['weights'] = {'torchscript': {**y['weights']['torchscript'], 'parent': None}}
    def foreign(y): y['weights']['pytorch_state_dict']['architecture'].update(callable='Net', import_from='cellpose.models')
    with pytest.raises(NotSegkitPackage, match='has torchscript weights but no pytorch_state_dict'): model_from_package(_rewrite(p, tmp_path / 'ts.zip', ts_only))
    with pytest.raises(NotSegkitPackage, match="architecture is cellpose.models.Net, not a segkit model"): model_from_package(_rewrite(p, tmp_path / 'fo.zip', foreign))
    runs = tmp_path / 'runs'
    rc = main(['finetune', str(tmp_path / 'ts.zip'), '--out', str(runs)])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and err.count('\n') == 0 and 'no pytorch_state_dict' in err and not runs.exists()   # one line, no run folder
    with pytest.raises(ValueError, match=r"predicts 2 channels \(background, nucleus\)"): finetune_package(p, 'nuclei', layer='semantic', out=runs)
    with pytest.raises(ValueError, match='`crop`: the package'): finetune_package(p, 'nuclei', crop=30, out=runs)
    assert not runs.exists()
