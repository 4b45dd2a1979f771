# VAN-B2 ("base", Table 5 of the paper): its name, ImageNet weights and
# stage widths. Weights: the official VAN-Classification ImageNet-1K
# checkpoint, 82.8% top-1 (van_mm.checkpoint.pretrained, 'van_b2.in1k').
van = dict(
    arch='b2',
    pretrained='https://huggingface.co/Visual-Attention-Network/VAN-Base-original/resolve/main/van_base_828.pth.tar',  # noqa
    channels=[64, 128, 320, 512],  # stages 1-4: what FPN and UperNet read
    stage3_channels=320,  # what the auxiliary FCN head reads
    stage234_channels=[128, 320, 512],  # stages 2-4: what Light-Ham reads
)
