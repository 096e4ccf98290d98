"""``python -m svibench`` (and ``accelerate launch -m svibench ...``): the same CLI."""

from svibench.cli import main

if __name__ == "__main__":
    main()
