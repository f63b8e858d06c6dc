"""What the GPU machines lack, in one place: the wheels `prepare` downloads and `run` installs, and what the image is assumed to hold.

Versions come from `constraints.txt` (the pins tested together on the CPU machines), so they are written nowhere else.
Three groups:
- `ALWAYS`: the pure-Python fast.ai stack and captum, installed by `run` into `.gpu-site/` (first on `sys.path`) in the
  tested versions.
- `IF_MISSING`: their light pure-Python dependencies (and pytest), plus compiled wheels for CPython 3.12 (manylinux) of
  libraries a minimal torch image may lack (matplotlib, pandas, shapely): `run` installs one only where the machine
  cannot import it or has an older version than the pin.
- `SKIPPED`: needs compiling (pydensecrf2): not carried unless a 3.12 wheel exists; its tests skip.
"""
from __future__ import annotations
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WHEELS = ROOT / '.gpu-wheels'          # ignored; carried to the GPU machine
NUCLEI = 'nuclei-subset'                # in WHEELS: 4 real images of the `nuclei` source, mnfinder's layout (the demo recipe test)
SITE = ROOT / '.gpu-site'              # ignored; created on the GPU machine by `run`
MANIFEST = 'manifest.json'
PY = '3.12'
PLATFORM = 'manylinux2014_x86_64'
PREPARE = 'bench/gpu/prepare'

# distribution -> the module it provides (checked by `run`)
ALWAYS = {   # the tested fast.ai stack and captum: installed in their pinned versions even where the image has others
    'fastai': 'fastai', 'fastcore': 'fastcore', 'fastprogress': 'fastprogress', 'fastdownload': 'fastdownload',
    'fasttransform': 'fasttransform', 'plum-dispatch': 'plum', 'captum': 'captum', 'python-fasthtml': 'fasthtml',
}
IF_MISSING = {   # installed only where the machine cannot import them, or has an older version than the pin
    # light dependencies of plum-dispatch, fastai and of fasthtml (fastprogress 1.1 imports fasthtml.common)
    'beartype': 'beartype', 'rich': 'rich', 'markdown-it-py': 'markdown_it', 'mdurl': 'mdurl', 'Pygments': 'pygments',
    'typing_extensions': 'typing_extensions', 'cloudpickle': 'cloudpickle', 'starlette': 'starlette', 'anyio': 'anyio',
    'idna': 'idna', 'itsdangerous': 'itsdangerous', 'python-multipart': 'python_multipart', 'httpx2': 'httpx2',
    'httpcore2': 'httpcore2', 'h11': 'h11', 'certifi': 'certifi', 'python-dateutil': 'dateutil', 'six': 'six',
    'truststore': 'truststore', 'tzdata': 'tzdata',
    'requests': 'requests', 'urllib3': 'urllib3', 'charset-normalizer': 'charset_normalizer',
    'pytest': 'pytest', 'pluggy': 'pluggy', 'iniconfig': 'iniconfig',
    'setuptools': 'setuptools', 'wheel': 'wheel', 'packaging': 'packaging',   # build segkit offline (`pip install --no-index --find-links .gpu-wheels .`)
    # compiled (CPython 3.12, manylinux): a minimal torch image may lack them
    'matplotlib': 'matplotlib', 'contourpy': 'contourpy', 'kiwisolver': 'kiwisolver', 'fonttools': 'fontTools',
    'cycler': 'cycler', 'pyparsing': 'pyparsing', 'pandas': 'pandas', 'shapely': 'shapely', 'tqdm': 'tqdm', 'PyYAML': 'yaml',
}
# requirements in the wheels' metadata that nothing segkit runs imports (checked by `prepare`'s `pip check`)
UNUSED = {'spacy': 'fastai.text only', 'uvicorn': 'fasthtml server', 'oauthlib': 'fasthtml OAuth', 'fastlite': 'fasthtml database',
          'beautifulsoup4': 'fasthtml toxml', 'python-dotenv': 'uvicorn'}
SKIPPED = {'pydensecrf2': ('pydensecrf', 'needs compiling (no wheel for CPython 3.12): dense-CRF tests skip')}

# What the GPU image is assumed to hold (issue 16: Python 3.12, torch 2.11, torchvision, timm, accelerate, scikit-image,
# scikit-learn, opencv) and what those install with. `run` checks every module here and names the missing ones.
IMAGE = {
    'torch': 'torch', 'torchvision': 'torchvision', 'timm': 'timm', 'accelerate': 'accelerate', 'scikit-image': 'skimage',
    'scikit-learn': 'sklearn', 'opencv': 'cv2', 'numpy': 'numpy', 'scipy': 'scipy', 'pillow': 'PIL', 'networkx': 'networkx',
    'imageio': 'imageio', 'tifffile': 'tifffile', 'lazy-loader': 'lazy_loader', 'joblib': 'joblib',
    'threadpoolctl': 'threadpoolctl', 'huggingface-hub': 'huggingface_hub', 'safetensors': 'safetensors',
    'filelock': 'filelock', 'fsspec': 'fsspec', 'jinja2': 'jinja2', 'markupsafe': 'markupsafe', 'sympy': 'sympy',
    'mpmath': 'mpmath', 'psutil': 'psutil',
}   # packaging is also carried: pip's isolated build of segkit needs it from .gpu-wheels
# installed with the above in their current versions, not checked by `run` (older versions do not import them)
IMAGE_DEPS = {'narwhals': 'scikit-learn >= 1.8', 'hf-xet': 'huggingface-hub', 'httpx': 'huggingface-hub >= 1.0',
              'httpcore': 'httpx', 'shellingham': 'huggingface-hub', 'typer': 'huggingface-hub', 'typer-slim': 'huggingface-hub'}

def pins(path=ROOT / 'constraints.txt') -> dict:
    "`{normalized name: version}` from a pip constraints file."
    out = {}
    for line in Path(path).read_text().splitlines():
        m = re.match(r'^\s*([A-Za-z0-9_.\-]+)\s*==\s*([^\s;#]+)', line)
        if m: out[norm(m[1])] = m[2]
    return out

def norm(name:str) -> str: return re.sub(r'[-_.]+', '-', name).lower()

def wanted() -> list[tuple[str, str, str]]:
    "`(distribution, group, module)` for every wheel `prepare` fetches."
    return [(d, 'always', m) for d, m in ALWAYS.items()] + [(d, 'if_missing', m) for d, m in IF_MISSING.items()]
