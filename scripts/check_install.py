# Copyright (c) van-mm contributors. Licensed under the Apache License 2.0.
"""The closing check of scripts/install.sh: the stack imports, and configs
with mmdet:: and mmseg:: bases load as mmdet's and mmseg's own tools load
them (mmengine's ``Config.fromfile``, van_mm not imported yet) and as
van_mm's tools do.

    python scripts/check_install.py [CONFIG ...]

Prints the versions and exits 0, or names every config that does not load
and exits 1.
"""
import sys

DEFAULT_CONFIGS = ['configs/maskrcnn_van_b0_1x.py',
                   'configs/fpn_van_b0_ade20k_40k.py']


def main(configs):
    import mmcv
    import mmdet
    import mmengine
    import mmpretrain
    import mmseg
    import torch
    from mmengine.config import Config

    failed = []

    def check(load, how):
        for config in configs:
            try:
                load(config)
            except Exception as e:  # report every config, whatever failed
                failed.append(f'{config} ({how}): {type(e).__name__}: '
                              f'{str(e).splitlines()[0] if str(e) else ""}')

    check(Config.fromfile, 'Config.fromfile before import van_mm')
    import van_mm
    from van_mm.apis import load_config
    check(load_config, "van_mm's tools")
    if failed:
        print('[van-mm install] the installed stack cannot load these '
              'configs:\n  ' + '\n  '.join(failed), file=sys.stderr)
        return 1
    print(f'torch {torch.__version__} | mmengine {mmengine.__version__} | '
          f'mmcv {mmcv.__version__} | mmdet {mmdet.__version__} | '
          f'mmseg {mmseg.__version__} | mmpretrain {mmpretrain.__version__} '
          f'| van_mm {van_mm.__version__} | {len(configs)} configs load')
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:] or DEFAULT_CONFIGS))
