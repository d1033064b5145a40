"""The neighbouring studies: ImageNet ResNet-50 with Grad-CAM on CIFAR images (:mod:`.imagenet`), the simple-CNN
stride/kernel sweep and Grad-CAM on misclassified images (:mod:`.sweeps`), and FGSM (:mod:`.adversarial`)."""
from drise_tf.studies import imagenet
from drise_tf.studies.adversarial import epsilon_sweep, fgsm
from drise_tf.studies.sweeps import (
    format_table,
    misclassified_gradcam,
    saliency_and_gradcam,
    stride_kernel_sweep,
    write_table_csv,
)

__all__ = ["imagenet", "epsilon_sweep", "fgsm", "format_table", "misclassified_gradcam", "saliency_and_gradcam",
           "stride_kernel_sweep", "write_table_csv"]
