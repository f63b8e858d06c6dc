"""`nuclei` metadata is joined on the image's whole relative path: mnfinder's image-info.csv describes test images by
acquisition folder + file name, and '4.tif' exists in four folders (issue 15: an RPE-1 training image was labelled U2OS)."""
import pytest
from segkit.data import sources as S
from segkit.data.sources import get_source

def test_offline_layout_same_file_name_in_another_folder(tmp_path):
    kw = S._nuclei_smoke(tmp_path)       # training/validation smoke_RPE1/images/1.tif; the CSV describes test-data/smoke_U2OS/images/1.tif
    ds = get_source('nuclei', **kw)
    assert list(ds.meta.cell_line) == ['RPE-1', 'RPE-1'] and list(ds.meta.microscope) == ['unknown', 'unknown']
    info = S._image_info(tmp_path)
    assert list(info.index) == ['test-data/smoke_U2OS/images/1.tif'] and info.cell_type.iloc[0] == 'U2OS'

def test_offline_layout_a_described_image_gets_its_row(tmp_path):
    kw = S._nuclei_smoke(tmp_path)
    d = tmp_path / 'test-data' / 'smoke_U2OS'
    for sub in ('images', 'nucleus_masks', 'mn_masks'):
        src = next((tmp_path / 'training-data' / 'smoke_RPE1' / sub).iterdir())
        (d / sub).mkdir(parents=True); (d / sub / src.name).write_bytes(src.read_bytes())
    import numpy as np
    S._write_tif(d / 'images' / '1.tif', np.full((16, 16), 7, np.uint16))   # other pixels: not dropped as a duplicate
    ds = get_source('nuclei', **kw)
    m = ds.meta.set_index('file')
    assert m.loc['test-data/smoke_U2OS/images/1.tif', 'cell_line'] == 'U2OS' and m.loc['test-data/smoke_U2OS/images/1.tif', 'microscope'] == 'WF'
    assert m.loc['training-data/smoke_RPE1/images/1.tif', 'cell_line'] == 'RPE-1'

@pytest.fixture(scope='module')
def meta(): return get_source('nuclei').meta.set_index('file')

def test_the_rpe1_training_image_4_is_rpe1(meta):
    # before: info.loc['4.tif'] gave the row of test-data/2022-10-14_U2OS/images/4.tif (U2OS, widefield) to every 4.tif
    assert meta.loc['training-data/2022-03-18_RPE1/images/4.tif', 'cell_line'] == 'RPE-1'
    assert meta.loc['training-data/2022-03-18_RPE1/images/4.tif', 'microscope'] == 'unknown'
    assert meta.loc['validation-data/2023-05-31_misc/images/4.tif', 'cell_line'] == 'unknown'
    assert tuple(meta.loc['test-data/2022-10-14_U2OS/images/4.tif', ['cell_line', 'microscope']]) == ('U2OS', 'WF')

def test_every_row_of_image_info_is_used_once_and_only_for_test_images(meta):
    info = S._image_info(S.fetch_package(*S._MNF) / 'mnfinder')
    assert len(info) == 15 and info.index.is_unique
    joined = meta[meta.microscope != 'unknown']
    assert sorted(joined.index) == sorted(info.index) and all(f.startswith('test-data/') for f in joined.index)
    assert (joined.cell_line == info.loc[joined.index, 'cell_type']).all()
    assert (meta[meta.acquisition.str.endswith('RPE1')].cell_line == 'RPE-1').all()
    assert (meta[meta.acquisition.str.endswith('U2OS')].cell_line == 'U2OS').all()
