"""The `folder` source with RGB, RGBA and multi-channel images: read as (C, H, W), alpha dropped, mixed channel counts
refused naming the file; the false "spatial shapes differ (64, 3) vs (64, 64)" is gone."""
import numpy as np
import pytest
import tifffile
from PIL import Image
from segkit.data.sources import get_source, read_image
from segkit.cli import main

def _folder(root, images:dict, size=64):
    "`images`: stem → (H, W[, C]) uint8 array, saved by its stem's extension; one 0/1 mask per image."
    (root / 'images').mkdir(); (root / 'masks').mkdir()
    for name, a in images.items():
        p = root / 'images' / name
        if p.suffix == '.png': Image.fromarray(a).save(p)
        elif p.suffix == '.tif': tifffile.imwrite(p, a, photometric='rgb' if a.ndim == 3 and a.shape[-1] in (3, 4) else 'minisblack')
        else: np.save(p, a)
        m = np.zeros((size, size), np.uint8); m[10:30, 10:30] = 1
        Image.fromarray(m).save(root / 'masks' / f'{p.stem}.png')
    return root

def _rgb(seed, c=3, size=64): return np.random.default_rng(seed).integers(0, 255, (size, size, c), dtype=np.uint8)

def test_rgb_png_and_tiff_are_channels_first(tmp_path):
    a, b = _rgb(0), _rgb(1)
    root = _folder(tmp_path, {'a.png': a, 'b.tif': b, 'c.png': _rgb(2)})
    ds = get_source('folder', path=root, kind='instance')
    assert ds[0]['image'].shape == (3, 64, 64) and ds[1]['image'].shape == (3, 64, 64)
    assert np.array_equal(ds[0]['image'], np.moveaxis(a, -1, 0)) and np.array_equal(ds[1]['image'], np.moveaxis(b, -1, 0))
    ims, labs = ds.arrays(None, 'foreground')
    assert ims[0].shape == (3, 64, 64) and ims[0].dtype == np.float32 and labs[0].shape == (64, 64)

def test_alpha_is_dropped(tmp_path):
    rgba = _rgb(0, 4); rgba[..., 3] = 255
    root = _folder(tmp_path, {'a.png': rgba, 'b.png': _rgb(1), 'c.tif': _rgb(2, 4)})
    ds = get_source('folder', path=root, kind='instance')
    assert np.array_equal(ds[0]['image'], np.moveaxis(rgba[..., :3], -1, 0))
    assert ds[2]['image'].shape == (3, 64, 64)
    la = tmp_path / 'la.png'; Image.fromarray(_rgb(3, 2), mode='LA').save(la)
    assert read_image(la).shape == (64, 64)        # grey + alpha → grey

def test_channels_first_tiff_and_npy_keep_their_channels(tmp_path):
    root = _folder(tmp_path, {'a.npy': np.zeros((5, 64, 64), np.float32), 'b.tif': np.zeros((5, 64, 64), np.uint16),
                              'c.npy': np.zeros((5, 64, 64), np.float32)})
    ds = get_source('folder', path=root, kind='instance')
    assert [ds[i]['image'].shape for i in range(3)] == [(5, 64, 64)] * 3
    assert read_image(root / 'images' / 'a.npy').shape == (5, 64, 64)
    np.save(tmp_path / 'hwc.npy', _rgb(0)); assert read_image(tmp_path / 'hwc.npy').shape == (3, 64, 64)

def test_mixed_channel_counts_name_the_file(tmp_path):
    root = _folder(tmp_path, {'a.png': _rgb(0), 'b.png': _rgb(1), 'c.png': _rgb(2)[..., 0]})
    with pytest.raises(ValueError, match=r"images/c.png: 1 channel\(s\), but 2 of the 3 images have 3; give every image the same channels"):
        get_source('folder', path=root, kind='instance')

def test_no_false_spatial_shape_message(tmp_path, capsys):
    root = _folder(tmp_path, {'a.png': _rgb(0), 'b.png': _rgb(1), 'c.png': _rgb(2)})
    ds = get_source('folder', path=root, kind='instance')
    for i in range(3): ds[i]                       # before: "spatial shapes differ, (64, 3) vs (64, 64)"
    Image.fromarray(np.zeros((64, 60), np.uint8)).save(root / 'masks' / 'b.png')   # a real mismatch is still reported, correctly
    with pytest.raises(ValueError, match=r"spatial shapes differ, \(64, 64\) vs \(64, 60\)"): get_source('folder', path=root, kind='instance')[1]

def test_grey_mask_saved_as_rgb(tmp_path):
    root = _folder(tmp_path, {'a.png': _rgb(0), 'b.png': _rgb(1), 'c.png': _rgb(2)})
    m = np.zeros((64, 64), np.uint8); m[5:9, 5:9] = 1
    Image.fromarray(np.stack([m] * 3, -1)).save(root / 'masks' / 'a.png')
    assert np.array_equal(get_source('folder', path=root, kind='instance')[0]['mask'], m)
    col = np.zeros((64, 64, 3), np.uint8); col[5:9, 5:9] = (255, 0, 0)
    Image.fromarray(col).save(root / 'masks' / 'a.png')
    with pytest.raises(ValueError, match=r"masks/a.png: expected a single-channel label map, got shape \(64, 64, 3\)"):
        get_source('folder', path=root, kind='instance')[0]

def test_cli_rgb_folder_error_is_one_line_before_a_run(tmp_path, capsys):
    (tmp_path / 'd').mkdir()
    root = _folder(tmp_path / 'd', {'a.png': _rgb(0), 'b.png': _rgb(1), 'c.png': _rgb(2)[..., 0]})
    out = tmp_path / 'runs'
    assert main(['run', 'demo', '--source', 'folder', '--path', str(root), '--set', 'kind=instance', '--out', str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count('\n') == 0 and 'c.png: 1 channel(s), but 2 of the 3 images have 3' in err and not out.exists()
