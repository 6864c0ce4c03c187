"""An MLP on real handwritten digits (scikit-learn's 8x8 digits): held-out test accuracy,
loss and accuracy curves, the confusion matrix and the digits it gets wrong (PNGs).

Run: python examples/digits_mlp.py [--out DIR] [--quick] [--quiet]
The work is done by tinygrad_edu.lecture.digits_mlp,
which the tinygrad-edu digits command shares too.
"""

import sys

from tinygrad_edu.lecture import example_main

if __name__ == "__main__":
    sys.exit(example_main("digits_mlp"))
