"""Offline stand-in for the get-pip.py script that ansible-test downloads.

It bootstraps pip with ensurepip, then installs what was asked for.
"""
import subprocess
import sys

DROPPED = {"--no-setuptools", "--no-wheel"}


def main():
    subprocess.run([sys.executable, "-m", "ensurepip", "--upgrade"], check=True, stdout=subprocess.DEVNULL)
    args = [a for a in sys.argv[1:] if a not in DROPPED]
    if args:
        subprocess.run([sys.executable, "-m", "pip", "install"] + args, check=True)


if __name__ == "__main__":
    main()
