"""``python -m drise_tf`` runs the command line (same as the ``drise-tf`` console script)."""
from drise_tf.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
