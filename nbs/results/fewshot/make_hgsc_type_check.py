"""Check the type codes of `hgsc_nuclei` against the polygons histolytics ships (needs pyarrow and shapely).

Run: `python nbs/results/fewshot/make_hgsc_type_check.py` → `hgsc_type_check.json` next to this file.
"""
import json, sys
from pathlib import Path
import numpy as np

def type_check(data_dir=None) -> dict:
    "Cross table `class_name` × type code at a point inside each polygon of `hgsc_nest.parquet`."
    import pandas as pd, pyarrow.parquet as pq, shapely
    from segkit.data.sources import fetch_package
    from segkit.data.hgsc import hgsc_scene, HGSC_CODES
    root = Path(data_dir) if data_dir else fetch_package('histolytics', '0.3.0') / 'histolytics/data'
    t = pq.read_table(root / 'hgsc_nest.parquet').to_pandas()
    xy = shapely.get_coordinates(shapely.point_on_surface(shapely.from_wkb(t['geometry'].values)))
    types = hgsc_scene(root)['types']
    r, c = (np.clip(np.floor(v).astype(int), 0, n - 1) for v, n in ((xy[:, 1], types.shape[0]), (xy[:, 0], types.shape[1])))
    tab = pd.crosstab(t['class_name'].values, np.array(HGSC_CODES)[types[r, c]])
    return dict(n_polygons=len(t), point='shapely.point_on_surface, (x, y) = (column, row)',
                table={k: {c: int(v) for c, v in row.items()} for k, row in tab.T.to_dict().items()})

if __name__ == '__main__':
    out = Path(__file__).with_name('hgsc_type_check.json')
    out.write_text(json.dumps(type_check(*sys.argv[1:]), indent=1)); print(out.read_text())
