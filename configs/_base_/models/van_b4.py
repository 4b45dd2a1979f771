# VAN-B4 (Table 5 of the paper): its name, ImageNet weights and stage
# widths. Weights: the official ImageNet-1K checkpoint, 84.2% top-1
# (van_mm.checkpoint.pretrained, 'van_b4.in1k'), published only in the
# Tsinghua Cloud folder that VAN-Segmentation's README links
# (https://cloud.tsinghua.edu.cn/d/0100f0cea37d41ba8d08/): download
# van_b4.pth into pretrained/, as the official configs name it.
van = dict(
    arch='b4',
    pretrained='pretrained/van_b4.pth',
    channels=[64, 128, 320, 512],  # stages 1-4: what FPN and UperNet read
    stage3_channels=320,  # what the auxiliary FCN head reads
)
