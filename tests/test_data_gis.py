"""GIS for user mosaics: the affine convention of segkit.core on GeoTIFFs, site points (CSV) and polygons (GeoJSON)."""
import json
import numpy as np
import pandas as pd
import pytest
from segkit.core import pixel_to_map, map_to_pixel, geotransform
from segkit.data.sources import GeoTiff
from segkit.data.gis import open_mosaic, mosaic_transform, read_points, read_polygons, rasterize_polygons

X0, Y0, PX = 500000.0, 4100000.0, 2.0

def write_geotiff(path, a, tile=(64, 64)):
    import tifffile
    tifffile.imwrite(path, a, tile=tile, extratags=[(33550, 12, 3, (PX, PX, 0.0)), (33922, 12, 6, (0.0, 0.0, 0.0, X0, Y0, 0.0))])
    return path

def to_map(r, c): return X0 + c * PX, Y0 - r * PX

@pytest.fixture
def mosaic(tmp_path):
    a = (np.arange(200 * 240).reshape(200, 240) % 251).astype(np.uint8)
    return write_geotiff(tmp_path / 'm.tif', a)

# --- the affine convention ---------------------------------------------------------------------------------------------

def test_mosaic_transform_is_gdal_and_round_trips(mosaic):
    t = mosaic_transform(mosaic)
    assert t == (X0, PX, 0.0, Y0, 0.0, -PX) and mosaic_transform(open_mosaic(mosaic)) == t
    r, c = np.array([0., 10.5, 199.99]), np.array([0., 20.25, 239.5])
    x, y = pixel_to_map(r, c, t)
    np.testing.assert_allclose((x, y), to_map(r, c))
    rr, cc = map_to_pixel(x, y, t)
    np.testing.assert_allclose(rr, r); np.testing.assert_allclose(cc, c)
    g = GeoTiff(mosaic)
    assert g.xy(10, 20) == pytest.approx(pixel_to_map(10, 20, t))        # the GeoTiff and core agree

def test_affine_convention_general_transforms():
    rng = np.random.default_rng(0)
    r, c = rng.uniform(-10, 500, (2, 50))
    for t in [(X0, PX, 0., Y0, 0., -PX), (10., 0.8, -0.6, 20., 0.6, 0.8), (0., 1., 0.3, 0., 0., -2.)]:
        rr, cc = map_to_pixel(*pixel_to_map(r, c, t), t)
        np.testing.assert_allclose(rr, r, atol=1e-9); np.testing.assert_allclose(cc, c, atol=1e-9)
    x, y = pixel_to_map(2., 3., (100., 2., 0.5, 200., 0.25, -4.))         # GDAL: X = x0 + c·dx + r·rx, Y = y0 + c·ry + r·dy
    assert (x, y) == pytest.approx((100 + 3 * 2 + 2 * 0.5, 200 + 3 * 0.25 - 2 * 4))
    class Aff:
        def to_gdal(self): return (1., 2., 0., 3., 0., -2.)
    assert geotransform(Aff()) == (1., 2., 0., 3., 0., -2.)
    with pytest.raises(ValueError, match="expected a GDAL geotransform"): geotransform((X0, PX, Y0, -PX))   # the old 4-tuple is refused
    with pytest.raises(ValueError, match="singular"): geotransform((0., 1., 2., 0., 1., 2.))
    with pytest.raises(ValueError, match="no georeference"): map_to_pixel(0, 0, None)

def test_mosaic_without_georeference(tmp_path):
    import tifffile
    tifffile.imwrite(tmp_path / 'plain.tif', np.zeros((10, 10), np.uint8))
    with pytest.raises(ValueError, match="plain.tif has no georeference"): mosaic_transform(tmp_path / 'plain.tif')
    (tmp_path / 'p.csv').write_text('x,y,label\n1,2,site\n')
    with pytest.raises(ValueError, match="no georeference"): read_points(tmp_path / 'p.csv', tmp_path / 'plain.tif')

# --- points and polygons--------------------------------------------------------------------------------------------------

@pytest.fixture
def mosaic(tmp_path):
    a = (np.arange(200 * 240).reshape(200, 240) % 251).astype(np.uint8)
    return write_geotiff(tmp_path / 'm.tif', a)

def test_csv_map_to_pixel(tmp_path, mosaic):
    rows, cols = [10.5, 150.25, 0.0], [20.0, 3.75, 239.5]
    xs, ys = zip(*[to_map(r, c) for r, c in zip(rows, cols)])
    pd.DataFrame(dict(x=xs, y=ys, label=['site', 'no-site', '1'], name=['a', 'b', 'c'])).to_csv(tmp_path / 'p.csv', index=False)
    p = read_points(tmp_path / 'p.csv', mosaic, id='name')
    np.testing.assert_allclose(p.row, rows); np.testing.assert_allclose(p.col, cols)
    assert p.label.tolist() == [1, 0, 1] and p.id.tolist() == ['a', 'b', 'c']
    g = GeoTiff(mosaic)
    np.testing.assert_allclose(pixel_to_map(p.row, p.col, mosaic_transform(g)), (xs, ys))
    pd.DataFrame(dict(r=rows, c=cols, kind=[1, 0, 0])).to_csv(tmp_path / 'q.csv', index=False)
    q = read_points(tmp_path / 'q.csv', mosaic, coords='pixel', row='r', col='c', label='kind')
    np.testing.assert_allclose(q.row, rows) and np.testing.assert_allclose(q.col, cols)

def test_csv_bad_input(tmp_path, mosaic):
    (tmp_path / 'nox.csv').write_text('east,y,label\n1,2,site\n')
    with pytest.raises(ValueError, match=r"nox.csv: missing column\(s\) \['x'\]"): read_points(tmp_path / 'nox.csv', mosaic)
    (tmp_path / 'lab.csv').write_text(f'x,y,label\n{X0 + 10},{Y0 - 10},maybe\n')
    with pytest.raises(ValueError, match=r"lab.csv: column 'label' has values \['maybe'\]"): read_points(tmp_path / 'lab.csv', mosaic)
    (tmp_path / 'nan.csv').write_text(f'x,y,label\n{X0 + 10},,site\n')
    with pytest.raises(ValueError, match=r"nan.csv: non-numeric or empty coordinates"): read_points(tmp_path / 'nan.csv', mosaic)
    (tmp_path / 'out.csv').write_text(f'x,y,label\n{X0 + 10},{Y0 - 10},site\n{X0 - 10},{Y0 - 10},site\n{X0 + 10},{Y0 - 1000},site\n')
    with pytest.raises(ValueError, match=r"2 of 3 points lie outside the mosaic m.tif \(200×240 pixels\)"): read_points(tmp_path / 'out.csv', mosaic)
    assert len(read_points(tmp_path / 'out.csv', mosaic, outside='skip')) == 1
    with pytest.raises(ValueError, match="`mosaic`: needed"): read_points(tmp_path / 'out.csv')
    with pytest.raises(FileNotFoundError, match="`csv`"): read_points(tmp_path / 'missing.csv', mosaic)

def test_geojson_square_rasterises_to_hand_computed_mask(tmp_path, mosaic):
    ring = [to_map(40, 60), to_map(40, 70), to_map(52, 70), to_map(52, 60), to_map(40, 60)]   # rows 40..52, cols 60..70
    gj = {'type': 'FeatureCollection', 'features': [{'type': 'Feature', 'properties': {}, 'geometry': {'type': 'Polygon', 'coordinates': [ring]}}]}
    (tmp_path / 's.geojson').write_text(json.dumps(gj))
    polys = read_polygons(tmp_path / 's.geojson', mosaic)
    m = rasterize_polygons(polys, (200, 240))
    want = np.zeros((200, 240), np.uint8); want[40:52, 60:70] = 1
    assert np.array_equal(m, want)
    # the same square in a chip whose top-left is (26, 45)
    # pixel coordinates and MultiPolygons with holes
    mp = {'type': 'MultiPolygon', 'coordinates': [[[[0, 0], [10, 0], [10, 10], [0, 10], [0, 0]], [[2, 2], [4, 2], [4, 4], [2, 4], [2, 2]]],
                                                  [[[20, 20], [22, 20], [22, 21], [20, 21], [20, 20]]]]}
    m2 = rasterize_polygons(read_polygons(mp, coords='pixel'), (30, 30))
    assert m2.sum() == 100 - 4 + 2 and m2[3, 3] == 0 and m2[20, 21] == 1

def test_geojson_bad_input(tmp_path, mosaic):
    (tmp_path / 'pt.geojson').write_text(json.dumps({'type': 'FeatureCollection', 'features': [
        {'type': 'Feature', 'geometry': {'type': 'Point', 'coordinates': [X0, Y0]}}]}))
    with pytest.raises(ValueError, match=r"pt.geojson: 1 features are not polygons, e.g. \[\(0, 'Point'\)\]"): read_polygons(tmp_path / 'pt.geojson', mosaic)
    with pytest.raises(ValueError, match="no Polygon or MultiPolygon"): read_polygons(tmp_path / 'pt.geojson', mosaic, other='skip')
    (tmp_path / 'bad.geojson').write_text('{not json')
    with pytest.raises(ValueError, match="bad.geojson: not valid JSON"): read_polygons(tmp_path / 'bad.geojson', mosaic)
    with pytest.raises(ValueError, match="`mosaic`: needed"): read_polygons({'type': 'Polygon', 'coordinates': [[[0, 0], [1, 0], [1, 1], [0, 0]]]})
