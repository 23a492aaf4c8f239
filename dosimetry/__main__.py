import sys

from dosimetry.cli.main import main

sys.exit(main())
