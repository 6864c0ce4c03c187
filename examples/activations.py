"""Every activation function of the lecture with the derivative the engine computes,
each checked against finite differences (PNG).

Run: python examples/activations.py [--out DIR] [--quick] [--quiet]
The work is done by tinygrad_edu.lecture.activation_functions,
which the tinygrad-edu command shares too.
"""

import sys

from tinygrad_edu.lecture import example_main

if __name__ == "__main__":
    sys.exit(example_main("activations"))
