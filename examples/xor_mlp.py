"""XOR learned by a multilayer network with backpropagation, and the same network
without activations failing (PNG).

Run: python examples/xor_mlp.py [--out DIR] [--quick] [--quiet]
The work is done by tinygrad_edu.lecture.xor_mlp,
which the tinygrad-edu command shares too.
"""

import sys

from tinygrad_edu.lecture import example_main

if __name__ == "__main__":
    sys.exit(example_main("xor_mlp"))
