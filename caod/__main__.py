import sys

from caod.main import main

sys.exit(main())
