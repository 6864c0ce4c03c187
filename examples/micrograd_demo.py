"""micrograd's demo with tinygrad_edu: an MLP on two moons, 100% training accuracy (PNG).

Run: python examples/micrograd_demo.py [--out DIR] [--quick] [--quiet]
The work is done by tinygrad_edu.lecture.micrograd_demo,
which the tinygrad-edu command shares too.
"""

import sys

from tinygrad_edu.lecture import example_main

if __name__ == "__main__":
    sys.exit(example_main("micrograd_demo"))
