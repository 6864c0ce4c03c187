"""Rosenblatt's perceptron on AND, OR, NAND and XOR (XOR never converges), and a
sigmoid neuron whose decision boundary moves as gradient descent trains it (GIF and PNG).

Run: python examples/perceptron_logic_gates.py [--out DIR] [--quick] [--quiet]
The work is done by tinygrad_edu.lecture.perceptron_logic_gates,
which the tinygrad-edu command shares too.
"""

import sys

from tinygrad_edu.lecture import example_main

if __name__ == "__main__":
    sys.exit(example_main("perceptron_logic_gates"))
