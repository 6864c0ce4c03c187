#!/bin/sh
# Make sure a Chromium is installed: the browser tests (tests/test_browser.py, test_pictures.py)
# drive it headless with Playwright, which is told where it is (never `playwright install`).
# $CHROMIUM, when set, names the browser to use.
found() {
    if [ -n "$CHROMIUM" ]; then
        [ -x "$CHROMIUM" ]
    else
        command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1
    fi
}
if found; then
    exit 0
fi
if [ -z "$CHROMIUM" ] && [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "Chromium is missing (the browser tests need it): installing the Debian package chromium"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
    found && exit 0
fi
if [ -n "$CHROMIUM" ]; then
    echo "CHROMIUM=$CHROMIUM is not an executable file." >&2
else
    echo "Chromium is required by the browser tests but was not found." >&2
fi
echo "Install it with your package manager, e.g. 'sudo apt-get install chromium' (Debian)," >&2
echo "'sudo apt-get install chromium-browser' (Ubuntu), or point CHROMIUM=/path/to/chromium at" >&2
echo "a Chromium or Chrome you have ('brew install --cask chromium' on macOS)." >&2
exit 1
