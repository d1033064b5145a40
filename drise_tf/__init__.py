"""drise_tf: ResNet-18 on CIFAR-10, explained with D-RISE and compared with gradient and CAM methods."""
__version__ = "0.1.0"
