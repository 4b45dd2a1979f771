# VAN-B0 ("tiny", Table 5 of the paper): its name, ImageNet weights and
# stage widths. Weights: the official VAN-Classification ImageNet-1K
# checkpoint, 75.4% top-1 (van_mm.checkpoint.pretrained, 'van_b0.in1k').
van = dict(
    arch='b0',
    pretrained='https://huggingface.co/Visual-Attention-Network/VAN-Tiny-original/resolve/main/van_tiny_754.pth.tar',  # noqa
    channels=[32, 64, 160, 256],  # stages 1-4: what FPN and UperNet read
    stage3_channels=160,  # what the auxiliary FCN head reads
    stage234_channels=[64, 160, 256],  # stages 2-4: what Light-Ham reads
)
