"""The lecture's grid of decision boundaries: m = 0..3 hidden layers by n = 2..16
units, each trained on a two-arm spiral (PNG).

Run: python examples/decision_boundaries.py [--out DIR] [--quick] [--quiet]
The work is done by tinygrad_edu.lecture.decision_boundaries,
which the tinygrad-edu command shares too.
"""

import sys

from tinygrad_edu.lecture import example_main

if __name__ == "__main__":
    sys.exit(example_main("decision_boundaries"))
