"""The `tinygrad-edu` command (also `python -m tinygrad_edu`)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from tinygrad_edu import Value


def _demo(args: argparse.Namespace) -> int:
    x1, x2 = Value(2.0, label="x1"), Value(0.0, label="x2")
    w1, w2 = Value(-3.0, label="w1"), Value(1.0, label="w2")
    b = Value(6.8813735870195432, label="b")
    out = (x1 * w1 + x2 * w2 + b).tanh()
    out.backward()
    print(f"neuron: tanh(x1*w1 + x2*w2 + b) = {out.data:.4f}")
    for v in (x1, x2, w1, w2, b):
        print(f"  d out / d {v.label} = {v.grad:+.4f}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tinygrad-edu", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="a tour of the lecture")
    demo.add_argument("--out", default="out", help="folder for the pictures")
    demo.set_defaults(run=_demo)
    args = parser.parse_args(argv)
    code: int = args.run(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
