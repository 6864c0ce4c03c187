#!/bin/sh
# Make sure Graphviz's `dot` is on PATH: rendering graphs and the tests need it.
if command -v dot >/dev/null 2>&1; then
    exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "Graphviz's dot is missing: installing the Debian package graphviz"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq graphviz >/dev/null
    command -v dot >/dev/null 2>&1 && exit 0
fi
echo "Graphviz's 'dot' program is required but was not found." >&2
echo "Install it with your package manager, e.g. 'sudo apt-get install graphviz'" >&2
echo "(Debian/Ubuntu), 'brew install graphviz' (macOS) or 'conda install graphviz'." >&2
exit 1
