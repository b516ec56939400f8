"""``python -m tracklet``: the same command line as the ``tracklet`` console script."""

from tracklet.cli import main

if __name__ == "__main__":
    main()
