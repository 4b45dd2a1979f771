# Visualizer backends for every van_mm config: mmengine's local files, plus
# TensorBoard (work_dir/<timestamp>/vis_data/) when tensorboard is installed.
# Configs use it as `visualizer = dict(vis_backends={{_base_.van_vis_backends}})`
import importlib.util

van_vis_backends = [dict(type='LocalVisBackend')] + (
    [dict(type='TensorboardVisBackend')]
    if importlib.util.find_spec('tensorboard') else [])
