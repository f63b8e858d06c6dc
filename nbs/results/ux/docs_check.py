"""Count what `segkit.docsite.broken_links` / `site_escapes` find in a built site; writes `nbs/results/ux/docs_check_<tag>.json`.

`python nbs/results/ux/docs_check.py SITE TAG` — SITE is a built site (`segkit docs` → `_site`); the "before" site was built from
the same notebooks with `segkit/docsite.py` of commit 572a4d8 (loaded from `git show`), the "after" site with this branch's."""
import json, sys
from collections import Counter
from pathlib import Path
from segkit.docsite import broken_links, site_escapes

site, tag = Path(sys.argv[1]), sys.argv[2]
bad, esc = broken_links(site), site_escapes(site)
pages = sorted(p for p in site.rglob('*.html') if '_sources' not in p.parts)
summary = lambda e: any(k in e['text'] for k in ('\\u', '\\x')) or e['kind'] == 'backslash-space'
out = dict(site=str(site), pages=len(pages), broken=len(bad), broken_by_problem=Counter(b['problem'].split(' in ')[0].split("'")[0].strip() for b in bad),
           broken_links=bad, escapes=len(esc), escapes_by_kind=Counter(e['kind'] for e in esc), pages_with_escapes=len({e['page'] for e in esc}),
           escape_examples=list({e['kind']: e for e in esc}.values()))
Path(f'nbs/results/ux/docs_check_{tag}.json').write_text(json.dumps(out, indent=1, ensure_ascii=False))
print({k: v for k, v in out.items() if k not in ('broken_links', 'escape_examples')})
