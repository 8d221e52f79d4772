"""How each release's weight files map onto keras_fcn models: names, types, layouts.

`caffe`: the Caffe nets of FCN, DeepLab (VGG16 and ResNet-101, its multi-scale copies checked and
skipped) and Dilation; `torchvision`: torchvision's segmentation nets on ResNet (`.pth` state
dicts); `matconvnet`: RefineNet's MatConvNet releases (`.mat`, MATLAB v7.3).
"""
