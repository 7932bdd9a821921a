"""`python -m local_model`: run the local Messages API server in the foreground."""

import sys

from local_model.settings import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
