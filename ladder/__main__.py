import sys

from ladder.cli.dispatch import main

sys.exit(main())
