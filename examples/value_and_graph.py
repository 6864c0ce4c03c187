"""A neuron, tanh(x1*w1 + x2*w2 + b): its gradients, its computation graph (SVG) and
backpropagation step by step (HTML).

Run: python examples/value_and_graph.py [--out DIR] [--quick] [--quiet]
The work is done by tinygrad_edu.lecture.value_and_graph,
which the tinygrad-edu command shares too.
"""

import sys

from tinygrad_edu.lecture import example_main

if __name__ == "__main__":
    sys.exit(example_main("value_and_graph"))
