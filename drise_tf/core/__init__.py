"""The base every other room stands on: Keras 2/3 differences and atomic files (:mod:`.compat`), the name registry
(:mod:`.registry`), splitting work over tf.distribute replicas (:mod:`.sharding`) and CSV/text tables
(:mod:`.tables`). Imports nothing else from drise_tf."""
