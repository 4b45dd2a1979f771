# Copyright (c) van-mm contributors. Licensed under the Apache License 2.0.
"""Test (and evaluate) a detector or segmentor checkpoint, or its exported
file.

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--out FILE|DIR]
        [--show-dir DIR] [--tta] [--allow-partial-load]
        [--cfg-options k=v ...] [--launcher ...]
    python tools/test.py CONFIG MODEL.onnx --backend onnxruntime [...]

Detection configs print COCO bbox (and segm) AP through mmdet's CocoMetric
and ``--out`` dumps the predictions to a ``.pkl`` file; segmentation configs
print mIoU/mAcc/aAcc through mmseg's IoUMetric and ``--out`` writes the
predicted label maps to a folder. ``--show-dir`` saves painted predictions.

CHECKPOINT may hold its backbone in any published VAN layout (an official
VAN-Segmentation segmentor, an mmseg 1.x ``projects/van`` one, van_mm's
own); a checkpoint that does not fit the config's model is refused, naming
the keys, unless ``--allow-partial-load``. ``--tta`` tests with the config's
``tta_pipeline`` and ``tta_model`` (for ADE20K: the official multi-scale +
flip protocol).

``--backend onnxruntime``: the second argument is a file of
``tools/export_onnx.py``, evaluated on the config's test set with the
config's metrics, as the checkpoint is: the same data pipeline (mmcv
decodes and resizes the images), mmengine's test loop and evaluator, the
network and post-processing in the file (:mod:`van_mm.export.backends`;
a detector's masks pasted by the torch-free runner's code). The
config's model is built around the file for its data pre-processor and
post-processing only; its weights are random and unused.
"""
from van_mm.apis import load_config, task_of, use_tta
from van_mm.cli.common import (
    add_backend_flag,
    add_partial_load_flag,
    build_test_runner,
    check_config_or_exit,
    deployed_model,
    parse_tool_args,
    require_file,
    run_test,
    tool_parser,
)


def parse_args(argv=None):
    parser = tool_parser('Test (and evaluate) a VAN detector or segmentor')
    parser.add_argument('checkpoint', help='checkpoint file (with --backend '
                        'other than pytorch: the exported model)')
    parser.add_argument(
        '--out', help='detection: dump predictions to this .pkl file; '
        'segmentation: write predicted label maps to this folder')
    parser.add_argument(
        '--show-dir', help='save painted predictions to this folder (under '
        'the work dir\'s timestamp folder unless absolute)')
    parser.add_argument(
        '--tta', action='store_true', help='test with the config\'s '
        'multi-scale and flip augmentation (tta_pipeline, tta_model)')
    add_partial_load_flag(parser)
    add_backend_flag(parser, 'the file of tools/export_onnx.py given as '
                     'CHECKPOINT')
    return parse_tool_args(parser, argv)


def main(argv=None):
    args = parse_args(argv)
    cfg = load_config(args.config, args.cfg_options, args.work_dir,
                      args.launcher)
    check_config_or_exit(cfg, 'test')
    deployed = args.backend != 'pytorch'
    if deployed:
        torch_only = [f'--{f.replace("_", "-")}' for f in
                      ('tta', 'allow_partial_load') if getattr(args, f)]
        if torch_only:
            raise SystemExit(f'{", ".join(torch_only)}: options of a '
                             'checkpoint; --backend runs the exported file '
                             'as it is.')
        require_file(args.checkpoint, 'Exported model')
    else:
        cfg.load_from = require_file(args.checkpoint, 'Checkpoint')
    task = task_of(cfg)
    if args.allow_partial_load:
        cfg.allow_partial_load = True
    if args.tta:
        try:
            use_tta(cfg)
        except ValueError as e:
            raise SystemExit(f'--tta: {e}')

    if args.show_dir:
        hook = cfg.default_hooks.get('visualization')
        if hook is None:
            raise SystemExit('--show-dir needs a VisualizationHook in '
                             'default_hooks of the config.')
        hook.draw = True
        if task == 'det':
            hook.test_out_dir = args.show_dir
        else:
            cfg.visualizer.save_dir = args.show_dir
            hook.interval = 1  # mmseg's hook paints every 50th by default
    if args.out and task == 'seg':
        cfg.test_evaluator.output_dir = args.out
        cfg.test_evaluator.keep_results = True
    if args.out and task == 'det' and not args.out.endswith(
            ('.pkl', '.pickle')):
        raise SystemExit(f'--out must name a .pkl file, got {args.out!r}')

    runner = build_test_runner(cfg)
    if deployed:
        host = getattr(runner.model, 'module', runner.model)  # DDP's
        runner.model = deployed_model(host, args.checkpoint, args.backend,
                                      next(host.parameters()).device.type)
        runner.logger.info(f'Testing {args.checkpoint} in {args.backend}.')
    if args.out and task == 'det':
        from mmdet.evaluation import DumpDetResults
        runner.test_evaluator.metrics.append(
            DumpDetResults(out_file_path=args.out))
    run_test(runner)

