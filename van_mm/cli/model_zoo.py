# Copyright (c) van-mm contributors. Licensed under the Apache License 2.0.
"""Regenerate the model zoo: ``configs/metafile.yml`` and README's tables.

    python tools/model_zoo.py                  # print README's model zoo
    python tools/model_zoo.py --write-readme   # update both README tables
    python tools/model_zoo.py --write-metafile # recount params and FLOPs of
                                               # every config (minutes)
    python tools/model_zoo.py --write-metafile --new-only
                                               # count new configs only
    python tools/model_zoo.py --check          # exit 1 if README is stale

See :mod:`van_mm.model_zoo` for what comes from where.
"""
import argparse
import os.path as osp
import sys

from van_mm import model_zoo

# the checkout this package is in (the configs and README.md it rewrites)
REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--write-metafile', action='store_true')
    parser.add_argument('--new-only', action='store_true',
                        help='with --write-metafile: count only configs the '
                        'metafile lacks, keep the counts of the others')
    parser.add_argument('--write-readme', action='store_true')
    parser.add_argument('--check', action='store_true',
                        help='exit 1 if README.md differs from the tables')
    args = parser.parse_args(argv)
    if args.write_metafile:
        model_zoo.write_metafile(REPO, new_only=args.new_only)
    readme = model_zoo.readme_path(REPO)
    if args.check or args.write_readme:
        new = model_zoo.rendered_readme(REPO)
        with open(readme, encoding='utf-8') as f:
            old = f.read()
        if args.check and new != old:
            sys.exit('README.md is stale: run python tools/model_zoo.py '
                     '--write-readme')
        if args.write_readme and new != old:
            with open(readme, 'w', encoding='utf-8') as f:
                f.write(new)
            print(f'updated {readme}')
    else:
        print(model_zoo.render(REPO))
